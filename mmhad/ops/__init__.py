"""Fused cross-Hadamard op of Adaptive Cross-Hadamard (ACH), one concept per module.

Layout (imports point downwards only; ``tests/test_import_graph.py`` checks for cycles):

* :mod:`.function`: the public op :func:`cross_hadamard`, its autograd
  :class:`CrossHadamardFunction` and argument checks;
* :mod:`.dispatch`: the one dispatch-state object (C++ CPU kernels on / off / undecided,
  Triton availability), :func:`use_cpu_extension`, and the choice of implementation for a
  tensor;
* :mod:`.kernels`: the implementations -- PyTorch (:mod:`.kernels.pytorch`), the C++ CPU
  kernel loader (:mod:`.kernels.cpu_ext`, source ``csrc/ach_cpu.cpp``), Triton on CUDA
  (:mod:`.kernels.triton_fwd`), the traceable export path (:mod:`.kernels.traceable`)
  and the op's ONNX graph (:mod:`.kernels.onnx_graph`);
* :mod:`.tracing`: export / tracing / compile detection and the quiet tracer;
* :mod:`.pairs`: pair enumeration (:func:`pair_indices`, :func:`num_pairs_of`);
* :mod:`.selection`: the straight-through selection weight of training.

Reference formulations used to check the op live outside the library:
``tools/analysis/ach_peers.py`` (what the official code computes), re-exported to the
tests by ``tests/ops/ach_reference.py``.
"""
from .dispatch import use_cpu_extension
from .function import CrossHadamardFunction, cross_hadamard
from .pairs import num_pairs_of, pair_indices
from .selection import straight_through_weight

__all__ = [
    'cross_hadamard', 'CrossHadamardFunction', 'use_cpu_extension', 'pair_indices',
    'num_pairs_of', 'straight_through_weight'
]
