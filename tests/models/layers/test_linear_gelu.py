"""mmhad/models/layers/linear_gelu.py: GELU(Linear(x)) in one oneDNN kernel where that is
safe, the plain two ops everywhere else."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmhad.models.layers import linear_gelu
from mmhad.models.layers.efficient_modulation import EfficientModulation, TokenMlp
from mmhad.models.layers.linear_gelu import LinearGELU, fused_kernel_applies
from tests.helpers import seeded_input


def _layer(in_features=24, out_features=40, bias=True, seed=0):
    torch.manual_seed(seed)
    return nn.Linear(in_features, out_features, bias=bias)


@pytest.fixture
def count_fused(monkeypatch):
    """Counts the calls that reach the oneDNN kernel (still running it)."""
    op = linear_gelu.onednn_linear_pointwise()
    if op is None:
        pytest.skip('this PyTorch build has no oneDNN linear_pointwise op')
    calls = []

    def counting(*args):
        calls.append(args[3])
        return op(*args)

    monkeypatch.setattr(linear_gelu, 'onednn_linear_pointwise', lambda: counting)
    return calls


@pytest.mark.parametrize('shape', [(5, 24), (2, 7, 3, 24), (0, 24)])
@pytest.mark.parametrize('bias', [True, False])
def test_equals_gelu_of_linear(shape, bias, count_fused):
    linear = _layer(bias=bias)
    x = seeded_input(shape, seed=1)
    expected = F.gelu(linear(x))
    with torch.no_grad():
        out = LinearGELU(linear)(x)
    assert count_fused == ['gelu']  # the fused kernel ran
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def test_non_contiguous_input(count_fused):
    linear = _layer()
    x = seeded_input((3, 6, 24), seed=2).transpose(0, 1)
    with torch.inference_mode():
        out = LinearGELU(linear)(x)
        expected = F.gelu(linear(x))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def test_falls_back_where_the_kernel_is_unsafe(count_fused):
    """Autograd (the kernel has no backward), float64, tracing / ONNX export and
    oneDNN disabled all take F.gelu(F.linear(...)): the same values, no fused call."""
    linear = _layer()
    layer = LinearGELU(linear)
    x = seeded_input((4, 24), seed=3)
    # gradients through the fallback are those of the two-op form
    out = layer(x)
    out.sum().backward()
    grad = linear.weight.grad.clone()
    linear.weight.grad = None
    F.gelu(linear(x)).sum().backward()
    torch.testing.assert_close(grad, linear.weight.grad)
    with torch.no_grad():
        torch.testing.assert_close(LinearGELU(_layer().double())(x.double()),
                                   F.gelu(_layer().double()(x.double())))
        with torch.backends.mkldnn.flags(enabled=False):
            assert not fused_kernel_applies(x, linear.weight)
            layer(x)
        traced = torch.jit.trace(layer, (x, ), check_trace=False)
    assert 'mkldnn' not in str(traced.graph)
    assert count_fused == []
    with torch.no_grad():
        assert fused_kernel_applies(x, linear.weight)


def test_build_without_the_kernel(monkeypatch):
    monkeypatch.setattr(linear_gelu, 'onednn_linear_pointwise', lambda: None)
    linear = _layer()
    x = seeded_input((4, 24), seed=4)
    with torch.no_grad():
        assert not fused_kernel_applies(x, linear.weight)
        torch.testing.assert_close(LinearGELU(linear)(x), F.gelu(linear(x)))


def test_only_exact_gelu_is_fused():
    assert LinearGELU.fuses(nn.Linear(2, 3), nn.GELU())
    assert not LinearGELU.fuses(nn.Linear(2, 3), nn.GELU(approximate='tanh'))
    assert not LinearGELU.fuses(nn.Linear(2, 3), nn.ReLU())
    assert not LinearGELU.fuses(LinearGELU(nn.Linear(2, 3)), nn.Identity())  # idempotent


@pytest.mark.parametrize('expand_ratio, fused', [(1, False), (4, True)])
def test_efficientmod_deploy_uses_it(expand_ratio, fused):
    """EfficientModulation fuses its expansion (GELU only when r > 1), TokenMlp its fc1;
    the parameters are the same tensors (state-dict keys unchanged); idempotent."""
    torch.manual_seed(0)
    mod = EfficientModulation(16, expand_ratio).eval()
    keys = set(mod.state_dict())
    x = seeded_input((2, 5, 4, 16), seed=5)
    with torch.no_grad():
        expected = mod(x)
        weight = mod.v.weight
        mod.switch_to_deploy()
        mod.switch_to_deploy()
        out = mod(x)
    assert isinstance(mod.v, LinearGELU) is fused and mod.v.weight is weight
    assert set(mod.state_dict()) == keys
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)

    mlp = TokenMlp(16, 64).eval()
    keys = set(mlp.state_dict())
    with torch.no_grad():
        expected = mlp(x)
        mlp.switch_to_deploy()
        out = mlp(x)
    assert isinstance(mlp.fc1, LinearGELU) and isinstance(mlp.act, nn.Identity)
    assert set(mlp.state_dict()) == keys
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
