"""Mixed precision that works on CPU as well as GPU.

mmengine's ``AmpOptimWrapper`` asserts a CUDA/NPU/MLU device, so ``--amp`` on a CPU-only
machine fails. ``CPUAutocastOptimWrapper`` runs the forward pass under
``torch.autocast('cpu', dtype=torch.bfloat16)``; bf16 has fp32's exponent range, so no
loss scaling is needed. ``enable_amp`` picks fp16 ``AmpOptimWrapper`` on GPU and this on CPU.
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward context is CPU bf16 autocast."""

    def __init__(self, *args, dtype: str = 'bfloat16', **kwargs):
        super().__init__(*args, **kwargs)
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f'CPU autocast dtype must be bfloat16 or float16, got {dtype!r}')
        self.cast_dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast('cpu', dtype=self.cast_dtype):
            yield


def enable_amp(cfg) -> str:
    """Switch ``cfg.optim_wrapper`` to mixed precision for the available device.

    Returns the wrapper type chosen.
    """
    wrapper = cfg.optim_wrapper
    current = wrapper.get('type', 'OptimWrapper')
    if current in ('AmpOptimWrapper', 'CPUAutocastOptimWrapper'):
        return current
    if current != 'OptimWrapper':
        raise ValueError(f'--amp: the config uses optim_wrapper type {current!r}; only '
                         'OptimWrapper can be switched to mixed precision automatically.')
    if torch.cuda.is_available():
        wrapper.type, wrapper.loss_scale = 'AmpOptimWrapper', 'dynamic'
    else:
        wrapper.type = 'CPUAutocastOptimWrapper'
    return wrapper.type
