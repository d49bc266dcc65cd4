"""``GELU(Linear(x))`` as one kernel: the deploy form of a linear layer followed by GELU.

A channels-last block's expansion (``Linear`` to ``r x C`` channels, then GELU) writes its
largest tensor twice in eager PyTorch: ``addmm`` (after copying the bias into the output)
and then ``gelu`` over the result. oneDNN, which PyTorch's CPU build ships, has the fused
primitive (``torch.ops.mkldnn._linear_pointwise``, the kernel ``torch.compile`` emits for
this pattern on CPU): the GELU is applied while the product is written. On EfficientMod-xs
at 224, batch 8, 2 threads, fusing its 12 expansions took ~7% off the forward.

The fused kernel has no autograd formula and is not an ONNX / TorchScript op, so
:class:`LinearGELU` uses it only where that is safe and falls back to
``F.gelu(F.linear(x, weight, bias))`` (the same function) otherwise; see
:func:`fused_kernel_applies`.
"""
import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@functools.lru_cache(maxsize=None)
def onednn_linear_pointwise():
    """PyTorch's oneDNN ``linear + pointwise`` op, or ``None`` in a build without it."""
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        return torch.ops.mkldnn._linear_pointwise.default
    except (AttributeError, RuntimeError):
        return None


def fused_kernel_applies(x: Tensor, weight: Tensor) -> bool:
    """Whether :class:`LinearGELU` may call the oneDNN kernel for this input: a float32
    CPU tensor, oneDNN present and enabled (``torch.backends.mkldnn.flags(enabled=False)``
    turns it off), no autograd graph to record (the kernel has no backward), and not
    while tracing, scripting or exporting to ONNX (the graph must hold standard ops)."""
    return (x.device.type == 'cpu' and x.dtype == torch.float32 and
            weight.dtype == torch.float32 and torch.backends.mkldnn.enabled and
            not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))
            and not torch.jit.is_tracing() and not torch.jit.is_scripting() and
            not torch.onnx.is_in_onnx_export() and onednn_linear_pointwise() is not None)


class LinearGELU(nn.Module):
    """``GELU(x W^T + b)`` (exact, erf GELU) with ``weight`` and ``bias`` taken over from
    a trained ``nn.Linear``; inference only (built by ``switch_to_deploy()``).

    Args:
        linear (nn.Linear): The layer whose parameters it uses (not copied).
    """

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = linear.weight
        self.bias = linear.bias

    @staticmethod
    def fuses(linear: nn.Module, act: nn.Module) -> bool:
        """Whether ``act(linear(x))`` is exactly what this module computes."""
        return (type(linear) is nn.Linear and isinstance(act, nn.GELU) and
                act.approximate == 'none')

    @classmethod
    def fuse(cls, linear: nn.Module, act: nn.Module) -> tuple:
        """``(LinearGELU(linear), nn.Identity())`` where :meth:`fuses` holds, else
        ``(linear, act)`` unchanged: the pair to put in place of ``linear`` and ``act``."""
        return (cls(linear), nn.Identity()) if cls.fuses(linear, act) else (linear, act)

    def forward(self, x: Tensor) -> Tensor:
        if fused_kernel_applies(x, self.weight):
            return onednn_linear_pointwise()(x, self.weight, self.bias, 'gelu', [],
                                             'none')
        return F.gelu(F.linear(x, self.weight, self.bias))

    def extra_repr(self) -> str:
        return (f'in_features={self.in_features}, out_features={self.out_features}, '
                f'bias={self.bias is not None}')
