"""The traceable implementation of the cross-Hadamard op, used under ONNX export,
``torch.export``, jit tracing / scripting and torch.compile.

Plain ops only (Gather with a flat row index, Mul, Add, Div, Abs, Concat), so an exported
graph runs in any runtime; autograd flows through them as usual.
"""
import torch

from ..pairs import pair_indices
from ..tracing import quiet_tracer
from .pytorch import bcast_affine

__all__ = ['forward_traceable']


def forward_traceable(x, idx, weight, scale, shift, alpha, p):
    """Plain, traceable ops: Gather (flat row index), Mul, Add, Concat."""
    bsz, c, h, w = x.shape
    with quiet_tracer():                             # Cs is static (top-k's k)
        cs = int(idx.shape[1])
    rows = x.reshape(-1, h * w)                              # (B*C, L)
    base = torch.arange(bsz, device=x.device).unsqueeze(1) * c
    z = rows[(idx + base).reshape(-1)].reshape(bsz, cs, h * w)
    if weight is not None:
        z = z * weight.unsqueeze(-1)
    ii, jj = pair_indices(cs, p, x.device)
    if alpha is None:
        y = z[:, ii] * z[:, jj]
    else:  # alpha z_i z_j: alpha applied to the Cs selected maps, not to the P products
        y = (z * alpha)[:, ii] * z[:, jj]
        y = y / (y.abs() + 1)
    if scale is not None:
        y = y * bcast_affine(scale, y)
    if shift is not None:
        y = y + bcast_affine(shift, y)
    return torch.cat([x, y.reshape(bsz, p, h, w)], dim=1)
