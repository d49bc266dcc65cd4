"""Which implementation (:mod:`.kernels`) computes the cross-Hadamard op for a tensor.

All dispatch state is one object, :data:`STATE`:

* ``STATE.cpu_ext``: the loaded C++ CPU kernels, ``None`` for the PyTorch path, or
  :data:`UNDECIDED` until the first CPU call decides from ``MMHAD_ACH_CPU_EXT``
  (:func:`use_cpu_extension` changes it);
* ``STATE.triton``: whether the Triton CUDA kernel is usable (``None``: not probed yet;
  set to ``False`` for the rest of the process when the kernel fails once).

Rules (:func:`forward`, :func:`backward`), for at least one product channel:

* CUDA: the Triton forward when Triton imports, else PyTorch ops; the backward uses
  PyTorch ops;
* CPU: the C++ kernels (forward and backward) when selected, else PyTorch ops.

The traceable path (export / tracing / compile) is chosen before this, in
:func:`mmhad.ops.cross_hadamard`.
"""
import warnings
from dataclasses import dataclass
from typing import Any, Optional

from .kernels import cpu_ext
from .kernels.pytorch import backward_torch, forward_torch

__all__ = ['STATE', 'UNDECIDED', 'DispatchState', 'cpu_extension', 'use_cpu_extension',
           'triton_available', 'forward', 'backward']

UNDECIDED = object()
"""``STATE.cpu_ext`` before the CPU implementation is decided."""


@dataclass
class DispatchState:
    """The process-wide implementation choices (see the module docstring)."""

    cpu_ext: Any = UNDECIDED       # C++ module | None (PyTorch path) | UNDECIDED
    triton: Optional[bool] = None  # None: not probed yet


STATE = DispatchState()


def cpu_extension():
    """The C++ CPU kernels, or None for the PyTorch path (decided once per process)."""
    if STATE.cpu_ext is UNDECIDED:
        STATE.cpu_ext = cpu_ext.module_or_none()
    return STATE.cpu_ext


def use_cpu_extension(flag: Optional[bool] = True) -> bool:
    """Select the CPU implementation: ``True`` the C++ kernels (built once, ~30 s, cached
    by PyTorch; raises if they cannot be built), ``False`` the pure-PyTorch path, ``None``
    the default (``MMHAD_ACH_CPU_EXT``: the kernels when they build). Returns whether the
    kernels are now in use."""
    if flag is None:
        STATE.cpu_ext = UNDECIDED
        return cpu_extension() is not None
    STATE.cpu_ext = cpu_ext.build() if flag else None
    return STATE.cpu_ext is not None


def triton_available() -> bool:
    """Triton imports (probed once per process)."""
    if STATE.triton is None:
        try:
            import triton  # noqa: F401
            STATE.triton = True
        except Exception:  # ImportError, or a broken triton install
            STATE.triton = False
    return STATE.triton


def forward(x, idx, weight, scale, shift, alpha, p):
    """The op's forward (no autograd) by the implementation chosen for ``x``'s device."""
    if p and x.is_cuda and triton_available():
        try:
            from .kernels.triton_fwd import cross_hadamard_triton  # optional dependency
            return cross_hadamard_triton(x, idx, weight, scale, shift, alpha, p)
        except Exception as exc:  # e.g. no compiler for this GPU: fall back, once
            STATE.triton = False
            warnings.warn(f'mmhad: the ACH Triton kernel failed ({exc!r}); '
                          'using PyTorch ops on CUDA from now on')
    if p and x.device.type == 'cpu':
        ext = cpu_extension()
        if ext is not None:
            return ext.ach_forward(x, idx, weight, scale, shift, alpha, p)
    return forward_torch(x, idx, weight, scale, shift, alpha, p)


def backward(grad_out, x, idx, weight, scale, shift, alpha, p, need_x, need_w, need_s,
             need_t, need_a):
    """Gradients ``(gx, gw, gs, gt, ga)`` of :func:`forward` (``None`` where not needed)."""
    if p and x.device.type == 'cpu':
        ext = cpu_extension()
        if ext is not None:   # one C++ call: gradients reduced and cast there
            return ext.ach_backward(grad_out, x, idx, weight, scale, shift, alpha, p,
                                    need_x, need_w, need_s, need_t, need_a)
    return backward_torch(grad_out, x, idx, weight, scale, shift, alpha, p, need_x, need_w,
                          need_s, need_t, need_a)
