"""--amp on a CPU-only machine: bf16 autocast instead of mmengine's CUDA-only wrapper."""
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmhad.engine import CPUAutocastOptimWrapper, enable_amp


def test_enable_amp_picks_cpu_autocast_without_gpu():
    if torch.cuda.is_available():
        pytest.skip('GPU present: fp16 AmpOptimWrapper is chosen')
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper',
                                         optimizer=dict(type='SGD', lr=0.1))))
    assert enable_amp(cfg) == 'CPUAutocastOptimWrapper'


def test_cpu_autocast_runs_forward_in_bf16_and_steps():
    model = torch.nn.Linear(4, 2)
    wrapper = build_optim_wrapper(model, dict(type='CPUAutocastOptimWrapper',
                                              optimizer=dict(type='SGD', lr=0.1)))
    assert isinstance(wrapper, CPUAutocastOptimWrapper)
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().pow(2).mean())
    assert not torch.equal(before, model.weight)


def test_non_default_wrapper_is_refused():
    cfg = Config(dict(optim_wrapper=dict(type='MyWrapper')))
    with pytest.raises(ValueError, match='MyWrapper'):
        enable_amp(cfg)
