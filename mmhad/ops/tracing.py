"""Tracing context of the cross-Hadamard op: is it being exported / traced / compiled, and
a context that silences the tracer's warnings about values recorded as constants.

Leaf module (imports only torch): :mod:`.pairs`, :mod:`.function` and the traceable kernel
(:mod:`.kernels.traceable`) all use it.
"""
import contextlib
import warnings

import torch

__all__ = ['quiet_tracer', 'in_export', 'is_traced']


class _IgnoreWarnings(warnings.catch_warnings):
    def __enter__(self):
        result = super().__enter__()
        warnings.simplefilter('ignore')
        return result


def quiet_tracer():
    """Silence jit / ONNX TracerWarnings about values recorded as constants (intended:
    ``Cs`` is top-k's static k). Under dynamo (torch.compile / torch.export) a no-op: it
    cannot trace the warnings machinery, and emits no such warnings."""
    if torch.compiler.is_compiling():
        return contextlib.nullcontext()
    return _IgnoreWarnings()


def in_export() -> bool:
    """An ONNX export or a ``torch.export`` is running."""
    try:
        if torch.onnx.is_in_onnx_export():
            return True
    except AttributeError:  # pragma: no cover
        pass
    try:
        return bool(torch.compiler.is_exporting())
    except AttributeError:  # pragma: no cover
        return False


def is_traced() -> bool:
    """The op must emit plain, traceable ops: ONNX export / torch.export, jit tracing or
    scripting, or torch.compile (dynamo)."""
    return (in_export() or torch.jit.is_tracing() or torch.jit.is_scripting()
            or torch.compiler.is_compiling())
