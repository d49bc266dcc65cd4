"""Straight-through selection weight of ACH training (Hadaptive-Net, Eqs. 5-7).

Multiplying the gathered channels by this weight (value 1) gives the values and gradients
of the paper's one-hot matrix product ``Z = M X`` (Eq. 8) without materialising ``M``;
:class:`mmhad.models.layers.ach.ACH` passes it to :func:`mmhad.ops.cross_hadamard` as
``weight``.
"""
from torch import Tensor

__all__ = ['straight_through_weight']


def straight_through_weight(soft: Tensor, idx: Tensor, sign: float = 1.0) -> Tensor:
    """``M^H`` gathered at the selected channels: value 1, gradient ``sign`` to ``soft``."""
    g = soft.gather(1, idx)
    g = g - g.detach()
    return (g if sign == 1.0 else g * sign) + 1.0
