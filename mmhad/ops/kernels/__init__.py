"""Implementations of the cross-Hadamard op, one module each (none records autograd):

* :mod:`.pytorch`: pure PyTorch forward and backward (CPU fallback, CUDA without Triton,
  the CUDA backward);
* :mod:`.cpu_ext`: builds / loads the single-pass C++ CPU kernels (``../csrc/ach_cpu.cpp``,
  ``MMHAD_ACH_CPU_EXT``), the default on CPU;
* :mod:`.triton_fwd`: the Triton forward on CUDA (imports Triton: loaded lazily);
* :mod:`.onnx_graph`: the op as one ONNX symbolic (TorchScript ONNX export, inference);
* :mod:`.traceable`: plain ops for ONNX export, jit tracing and torch.compile.

Which one runs is decided by :mod:`mmhad.ops.dispatch`; this package imports none of
them eagerly.
"""
