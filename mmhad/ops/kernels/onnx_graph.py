"""The ONNX graph of the cross-Hadamard op, emitted by ``torch.onnx.export`` (TorchScript
exporter, ``dynamo=False``) for inference (no straight-through weight).

Traced op by op (:mod:`.traceable`), the per-sample row gather needs the batch offsets
``b * C`` and the flat shapes, i.e. Shape / Gather / Range / Unsqueeze / Concat / Reshape
chains: ~40 nodes per ACH layer. Here the op is one symbolic with ten nodes at most (a
per-sample scale / shift, CrossHadaNorm's, adds one Unsqueeze each)::

    Z = GatherND(X, Unsqueeze(idx, -1), batch_dims=1)      (B, Cs, H, W), Eq. 8
    Y = Gather(Za, I, axis=1) * Gather(Z, J, axis=1)        pairs i < j, Eq. 2
        with Za = Z * alpha (DySoft), else Za = Z
    Y = Softsign(Y)                                         DySoft only
    Y = Y * scale + shift                                   folded norm, if any
    out = Concat(X, Y, axis=1)

(DySoft's ``alpha`` multiplies the ``Cs`` selected maps before the pair gather rather than
the ``P = Cs (Cs - 1) / 2`` products: the same values up to rounding for a fraction of the
work; Hadaptive-Net-S in ONNX Runtime 0.99x (0.98-1.00) the time at batch 32, no change
measurable at batch 1. In a Hadamard block's deploy form the depth-wise conv has taken
``scale`` into its weight, so that Mul is gone too.)

``I`` / ``J`` are constants and no node reads a shape, so the graph keeps a dynamic
batch and dynamic spatial axes. GatherND with ``batch_dims`` needs opset 12
(``MIN_OPSET``); an older opset (mmdeploy's default is 11) exports the traced ops. With
this symbolic the exported Hadaptive-Net-S deploy form went from 523 nodes to 217 (its
ECA scorers became one Conv each too, ``ECAScorer.channel_matrix``); 176 today.
"""
import torch
from torch import Tensor

from ..pairs import pair_indices
from .traceable import forward_traceable

__all__ = ['forward_onnx', 'MIN_OPSET']

MIN_OPSET = 12


def _given(value) -> bool:
    from torch.onnx import symbolic_helper
    return value is not None and not symbolic_helper._is_none(value)


def _affine_node(g, t):
    """``(1 or B, P)`` made broadcastable against ``(B, P, H, W)``: one Unsqueeze (folded
    away for constants)."""
    return g.op('Unsqueeze', t, g.op('Constant', value_t=torch.tensor([2, 3])))


class CrossHadamardONNX(torch.autograd.Function):
    """Values: :func:`.traceable.forward_traceable` (what the traced graph computes);
    export: the graph of the module docstring. ``ii`` / ``jj``: the pair indices;
    ``scale`` / ``shift``: ``(1 or B, P)``; ``alpha``: ``(1,)``."""

    @staticmethod
    def forward(ctx, x, idx, ii, jj, scale, shift, alpha):
        return forward_traceable(x, idx, None, scale, shift, alpha, ii.numel())

    @staticmethod
    def symbolic(g, x, idx, ii, jj, scale, shift, alpha):
        last = g.op('Constant', value_t=torch.tensor([-1]))
        z = g.op('GatherND', x, g.op('Unsqueeze', idx, last), batch_dims_i=1)
        z_i = g.op('Mul', z, alpha) if _given(alpha) else z
        y = g.op('Mul', g.op('Gather', z_i, ii, axis_i=1), g.op('Gather', z, jj, axis_i=1))
        if _given(alpha):
            y = g.op('Softsign', y)
        if _given(scale):
            y = g.op('Mul', y, _affine_node(g, scale))
        if _given(shift):
            y = g.op('Add', y, _affine_node(g, shift))
        return g.op('Concat', x, y, axis_i=1)


def _as_dtype(t, like: Tensor):
    if t is None or t.dtype == like.dtype:      # no Cast node when it is one already
        return t
    return t.to(like.dtype)


def _as_rows(t, like: Tensor):
    """``(P,)`` -> ``(1, P)`` (a view of a constant: folded at export); ``(B, P)`` as is."""
    t = _as_dtype(t, like)
    return t.view(1, -1) if t is not None and t.dim() == 1 else t


def forward_onnx(x: Tensor, idx: Tensor, scale, shift, alpha, cs: int, p: int) -> Tensor:
    """The cross-Hadamard op as one ONNX symbolic (``cs``: static top-k ``k``; ``p``
    pairs)."""
    ii, jj = pair_indices(cs, p, x.device)       # constants of the traced graph
    return CrossHadamardONNX.apply(x, idx, ii, jj, _as_rows(scale, x), _as_rows(shift, x),
                                   _as_dtype(alpha, x))
