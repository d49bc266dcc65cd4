"""Loader of the single-pass C++ CPU kernels of the cross-Hadamard op
(``mmhad/ops/csrc/ach_cpu.cpp``, shipped as package data of ``mmhad.ops``).

The kernels are the default CPU implementation of :func:`mmhad.ops.cross_hadamard`. They
are compiled with :func:`torch.utils.cpp_extension.load_inline` into PyTorch's extension cache
(``$TORCH_EXTENSIONS_DIR``, default ``~/.cache/torch_extensions``), keyed by the source's
hash: ``tools/install.sh`` builds them once (~30 s with a C++ compiler and ninja), later
processes load the cached library in well under a second, and an edited source is rebuilt.

``MMHAD_ACH_CPU_EXT`` selects the CPU implementation:

* unset / ``auto`` (default): the kernels if they build, else, after one warning, the
  pure-PyTorch path (same results, slower);
* ``1``: the kernels, and a failed build is an error;
* ``0``: always the pure-PyTorch path.
"""
import logging
import os
import os.path as osp
import threading
import warnings
from types import ModuleType
from typing import Optional

# mmhad/ops/csrc/ach_cpu.cpp (this file is mmhad/ops/kernels/cpu_ext.py)
SOURCE = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'csrc', 'ach_cpu.cpp')
ENV = 'MMHAD_ACH_CPU_EXT'

_LOCK = threading.Lock()
_MODULE: Optional[ModuleType] = None
_ERROR: Optional[BaseException] = None


def mode() -> str:
    """``'auto'`` | ``'on'`` | ``'off'`` from ``MMHAD_ACH_CPU_EXT``."""
    value = os.environ.get(ENV, 'auto').strip().lower()
    if value in ('1', 'on', 'true'):
        return 'on'
    if value in ('0', 'off', 'false'):
        return 'off'
    if value not in ('', 'auto'):
        raise ValueError(f"{ENV}={value!r}: use 'auto' (default), '1' or '0'")
    return 'auto'


def build(verbose: bool = False) -> ModuleType:
    """Compile (or load from PyTorch's extension cache) and return the module.

    Raises the build error; a failed build is not retried in this process."""
    global _MODULE, _ERROR
    with _LOCK:
        if _MODULE is None:
            if _ERROR is not None:
                raise RuntimeError(f'the ACH CPU kernel failed to build earlier: {_ERROR}')
            # importing cpp_extension on a CPU-only torch logs a CUDA_HOME warning that
            # does not concern a CPU build
            log = logging.getLogger('torch.utils.cpp_extension')
            level = log.level
            log.setLevel(logging.ERROR)
            try:
                from torch.utils.cpp_extension import load_inline
                with open(SOURCE, encoding='utf-8') as f:
                    source = f.read()
                # load_inline (not load): the build directory then holds a copy of the
                # source, so checkouts at different paths share one cached build
                _MODULE = load_inline(
                    name='mmhad_ach_cpu', cpp_sources=[source],
                    extra_cflags=['-O3', '-fopenmp'], extra_ldflags=['-fopenmp'],
                    verbose=verbose)
            except Exception as exc:  # no compiler, no ninja, a broken toolchain
                _ERROR = exc
                raise
            finally:
                log.setLevel(level)
    return _MODULE


def _summary(exc: BaseException) -> str:
    """The telling lines of a build error (compiler errors, 'not found'), not the
    whole compiler command lines."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    telling = [ln for ln in lines if ('error' in ln.lower() or 'not found' in ln.lower())
               and ' -isystem ' not in ln]                     # skip compiler command lines
    text = ' | '.join((telling or lines[-1:])[:3])
    return f'{type(exc).__name__}: {text[:400]}'


def module_or_none() -> Optional[ModuleType]:
    """The kernels as ``MMHAD_ACH_CPU_EXT`` asks: the module, or None for the PyTorch path
    (``auto`` warns once when the build fails; ``1`` raises)."""
    m = mode()
    if m == 'off':
        return None
    try:
        return build()
    except Exception as exc:
        if m == 'on':
            raise RuntimeError(
                f'{ENV}=1 but the ACH CPU kernel does not build ({_summary(exc)}); install a C++ '
                f'compiler and ninja, or unset {ENV} to fall back to PyTorch ops') from exc
        warnings.warn(f'mmhad: the ACH CPU kernel does not build ({_summary(exc)}); using the '
                      f'slower PyTorch implementation (set {ENV}=0 to silence this)')
        return None


def ready() -> bool:
    """The kernels are loaded in this process."""
    return _MODULE is not None


def install_main(verbose: bool = False) -> int:
    """Build / load the kernels once and say so (``tools/install.sh``); exit status 0 when
    built, or when not built and ``MMHAD_ACH_CPU_EXT`` allows the PyTorch fallback.

    Called as ``python -c`` after ``import mmhad``, not as ``python -m`` this module: the
    package imports this module first, so ``-m`` would run a second copy of it (and
    Python's runpy warns about exactly that)."""
    import time
    t0 = time.time()
    try:
        build(verbose=verbose)
    except Exception as exc:
        print(f'ACH CPU kernel: not built ({_summary(exc)}); the PyTorch path will be used')
        return 0 if mode() != 'on' else 1
    print(f'ACH CPU kernel: ready ({time.time() - t0:.1f} s)')
    return 0
