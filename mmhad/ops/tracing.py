"""Tracing context of the cross-Hadamard op: is it being exported / traced / compiled, and
a context that silences the tracer's warnings about values recorded as constants.

Leaf module (imports only torch): :mod:`.pairs`, :mod:`.function` and the traceable kernel
(:mod:`.kernels.traceable`) all use it.
"""
import contextlib
import importlib
import warnings

import torch

__all__ = ['quiet_tracer', 'in_export', 'in_onnx_symbolic_export', 'onnx_export_opset',
           'is_traced']


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


def onnx_export_opset():
    """The opset of the running TorchScript ONNX export, None if unknown (a private
    attribute whose module moved between torch releases)."""
    for name in ('torch.onnx._internal.torchscript_exporter._globals',
                 'torch.onnx._globals'):
        try:
            return int(importlib.import_module(name).GLOBALS.export_onnx_opset_version)
        except (ImportError, AttributeError, TypeError, ValueError):
            continue
    return None


def in_onnx_symbolic_export(min_opset: int = 1) -> bool:
    """``torch.onnx.export`` with the TorchScript exporter (``dynamo=False``) is tracing
    with opset ``>= min_opset`` (known): autograd Functions with a ``symbolic`` become
    the ONNX nodes it emits."""
    try:
        onnx_export = torch.onnx.is_in_onnx_export()
    except AttributeError:  # pragma: no cover
        return False
    if not (onnx_export and torch._C._get_tracing_state() is not None
            and not torch.compiler.is_compiling()):
        return False
    if min_opset <= 1:
        return True
    opset = onnx_export_opset()
    return opset is not None and opset >= min_opset


def is_traced() -> bool:
    """The op must emit plain, traceable ops: ONNX export / torch.export, jit tracing or
    scripting, or torch.compile (dynamo)."""
    return (in_export() or torch.jit.is_tracing() or torch.jit.is_scripting()
            or torch.compiler.is_compiling())
