"""The cross-Hadamard formulations the official code computes, as plain PyTorch: the
peers that ``benchmark_ach.py`` times :func:`mmhad.ops.cross_hadamard` against, and the
references the tests compare it with (``tests/ops/ach_reference.py`` imports them from
here; there is no second copy).

* :func:`cross_hadamard_reference`: inference, the composition gather -> index i ->
  index j -> multiply -> normalise -> cat.
* :func:`cross_hadamard_onehot_reference`: training, the one-hot formulation
  ``Z = (M' * M^H) X`` of Hadaptive-Net Eqs. 5-8, with the dense ``(B, Cs, C)`` matrix.

Not part of the library (``mmhad`` never imports ``tools``).
"""
import torch
from torch import Tensor

from mmhad.ops import pair_indices
from mmhad.ops.function import check_arguments

__all__ = ['cross_hadamard_reference', 'cross_hadamard_onehot_reference',
           'onehot_selection_weight']


def _normalised_products_cat(x, z, ii, jj, scale, shift, alpha) -> Tensor:
    """``cat(x, norm(z_i * z_j))`` with plain ops: the tail both references share."""
    y = z[:, ii] * z[:, jj]
    if alpha is not None:
        y = alpha * y
        y = y / (1 + torch.abs(y))
    if scale is not None:
        y = y * (scale.view(1, -1, 1, 1) if scale.dim() == 1 else scale[:, :, None, None])
    if shift is not None:
        y = y + (shift.view(1, -1, 1, 1) if shift.dim() == 1 else shift[:, :, None, None])
    return torch.cat([x, y], dim=1)


def cross_hadamard_reference(x, idx, weight=None, scale=None, shift=None, alpha=None,
                             num_pairs=None) -> Tensor:
    """Plain PyTorch composition (gather, index, multiply, normalise, cat).

    The way the public implementation runs inference; used by tests and the benchmark.
    """
    cs, p = check_arguments(x, idx, weight, scale, shift, alpha, num_pairs)
    bsz = x.shape[0]
    ii, jj = pair_indices(cs, p, x.device)
    batch = torch.arange(bsz, device=x.device).unsqueeze(-1).expand_as(idx)
    z = x[batch, idx]
    if weight is not None:
        z = z * weight[:, :, None, None]
    return _normalised_products_cat(x, z, ii, jj, scale, shift, alpha)


def onehot_selection_weight(soft: Tensor, idx: Tensor, sign: float = 1.0) -> Tensor:
    """Straight-through ``M^H`` (Eq. 5) of a soft mask ``(B, C)`` and its top-k ``idx``.

    ``sign=-1`` reproduces the public code (``hard + soft.detach() - soft``), whose
    gradient reaches ``soft`` negated.
    """
    hard = torch.zeros_like(soft).scatter_(1, idx, 1.0)
    return hard + sign * (soft - soft.detach())


def cross_hadamard_onehot_reference(x, idx, soft, scale=None, shift=None, alpha=None,
                                    num_pairs=None, sign: float = 1.0) -> Tensor:
    """Training composition of the paper / public code: ``Z = (M' * M^H) X`` (Eqs. 5-8).

    ``soft`` is the Gumbel-softmax mask ``(B, C)``; builds the dense ``(B, Cs, C)``
    one-hot matrix. Equivalent (values and gradients) to
    ``cross_hadamard(x, idx, weight=1 + soft.gather(idx) - soft.gather(idx).detach())``.
    """
    bsz, c, h, w = x.shape
    cs = idx.shape[1]
    mh = onehot_selection_weight(soft, idx, sign)            # (B, C)
    onehot = torch.zeros(bsz, cs, c, device=x.device, dtype=x.dtype)
    onehot.scatter_(2, idx.unsqueeze(-1), 1.0)
    mat = onehot * mh.unsqueeze(1)
    z = (mat @ x.flatten(2)).view(bsz, cs, h, w)
    _, p = check_arguments(x, idx, None, scale, shift, alpha, num_pairs)
    ii, jj = pair_indices(cs, p, x.device)
    return _normalised_products_cat(x, z, ii, jj, scale, shift, alpha)
