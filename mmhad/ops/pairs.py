"""Pair enumeration of the cross-Hadamard products.

Pairs ``i < j`` of the ``Cs`` selected channels are enumerated row-major over the upper
triangle (``(0,1), (0,2), .., (1,2), ..``), the order of the public implementation;
``num_pairs`` keeps only the first pairs, which gives an exact output width. Every
implementation (PyTorch, C++, Triton, the traceable export path) uses this order.
"""
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from .tracing import quiet_tracer

__all__ = ['num_pairs_of', 'pair_indices']


def num_pairs_of(cs: int) -> int:
    """Number of unordered pairs ``i < j`` among ``cs`` channels."""
    return cs * (cs - 1) // 2


_PAIR_CACHE: Dict[tuple, Tuple[Tensor, Tensor]] = {}


def pair_indices(cs: int, num_pairs: Optional[int] = None,
                 device=None) -> Tuple[Tensor, Tensor]:
    """Row-major upper-triangle pair indices ``(I, J)`` (int64), first ``num_pairs``."""
    hit = _PAIR_CACHE.get((cs, num_pairs, device))          # fast path: exact same args
    if hit is not None:
        return hit
    full = num_pairs_of(cs)
    n = full if num_pairs is None else int(num_pairs)
    if not 0 <= n <= full:
        raise ValueError(f'num_pairs={n} must lie in [0, {full}] for cs={cs}')
    dev = torch.device('cpu') if device is None else torch.device(device)
    key = (cs, n, str(dev))
    hit = _PAIR_CACHE.get(key)
    if hit is None:
        # plain Python so that a first call inside an ONNX / jit trace records constants
        pairs = [(i, j) for i in range(cs) for j in range(i + 1, cs)][:n]
        with quiet_tracer():                         # TracerWarning: constants, intended
            hit = (torch.tensor([i for i, _ in pairs], dtype=torch.int64, device=dev),
                   torch.tensor([j for _, j in pairs], dtype=torch.int64, device=dev))
        _PAIR_CACHE[key] = hit
    try:
        _PAIR_CACHE[(cs, num_pairs, device)] = hit
    except TypeError:  # unhashable device spec
        pass
    return hit
