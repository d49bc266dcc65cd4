"""The C++ CPU kernels of the cross-Hadamard op (mmhad/ops/kernels/cpu_ext.py, csrc/ach_cpu.cpp):
parity with the PyTorch path, selection by MMHAD_ACH_CPU_EXT, fallback and build errors.

Both CPU implementations also run every test of test_ach.py."""
import os

import pytest
import torch

from mmhad.ops import cross_hadamard, straight_through_weight, use_cpu_extension
from mmhad.ops.dispatch import STATE
from mmhad.ops.kernels import cpu_ext
from mmhad.ops.kernels.pytorch import forward_torch

from tests.helpers import ach_affine as _affine
from tests.helpers import ach_inputs as _inputs
from tests.helpers import has_cxx_compiler
from tests.ops.ach_reference import cross_hadamard_reference


@pytest.fixture
def kernels():
    """The kernels built (tools/install.sh does it; CI has a compiler), and the default
    selection restored afterwards."""
    if not has_cxx_compiler():
        pytest.skip('no C++ compiler: the CPU kernels cannot be built')
    assert use_cpu_extension(True)
    yield
    use_cpu_extension(None)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_cpu_extension_matches_torch_path(dtype, kernels):
    assert cpu_ext.ready()
    x, idx, g = _inputs(b=3, c=20, cs=7, h=4, w=6, dtype=dtype)
    p = 17
    soft = torch.rand(3, 20, generator=g, dtype=dtype).requires_grad_()
    for affine in ('channel', 'sample'):
        scale, shift = _affine(affine, 3, p, dtype, g)
        for alpha in (None, torch.tensor([0.7], dtype=dtype)):
            leaves = [t.clone().requires_grad_() for t in (x, soft, scale, shift)]
            w = straight_through_weight(leaves[1], idx)
            out = cross_hadamard(leaves[0], idx, w, leaves[2], leaves[3], alpha, p)
            with torch.no_grad():
                ref = forward_torch(x, idx, w, scale, shift, alpha, p)
            torch.testing.assert_close(out, ref)
            gout = torch.randn(out.shape, generator=g, dtype=dtype)
            rl = [t.clone().requires_grad_() for t in (x, soft, scale, shift)]
            ref = cross_hadamard_reference(rl[0], idx, straight_through_weight(rl[1], idx),
                                           rl[2], rl[3], alpha, p)
            for a, b in zip(torch.autograd.grad(out, leaves, gout),
                            torch.autograd.grad(ref, rl, gout)):
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_default_cpu_implementation_follows_env(kernels, monkeypatch):  # undo env first
    """Default (MMHAD_ACH_CPU_EXT unset): the C++ kernels when they build; '0' the PyTorch
    path; '1' requires the kernels; a failed build falls back with one warning, or raises
    under '1'; an unknown value is refused."""
    monkeypatch.delenv('MMHAD_ACH_CPU_EXT', raising=False)
    assert use_cpu_extension(None) and STATE.cpu_ext is cpu_ext.build()
    monkeypatch.setenv('MMHAD_ACH_CPU_EXT', '0')
    assert not use_cpu_extension(None)
    monkeypatch.setenv('MMHAD_ACH_CPU_EXT', '1')
    assert use_cpu_extension(None)
    monkeypatch.setenv('MMHAD_ACH_CPU_EXT', 'maybe')
    with pytest.raises(ValueError, match="use 'auto'"):
        use_cpu_extension(None)

    def broken(verbose=False):
        raise OSError('no compiler')

    monkeypatch.setattr(cpu_ext, 'build', broken)
    monkeypatch.setenv('MMHAD_ACH_CPU_EXT', 'auto')
    with pytest.warns(UserWarning, match='slower PyTorch implementation'):
        assert not use_cpu_extension(None)
    x, idx, _ = _inputs(dtype=torch.float32)                 # and the op still works
    torch.testing.assert_close(cross_hadamard(x, idx), cross_hadamard_reference(x, idx))
    monkeypatch.setenv('MMHAD_ACH_CPU_EXT', '1')
    with pytest.raises(RuntimeError, match='install a C\\+\\+ compiler and ninja'):
        use_cpu_extension(None)


def test_kernel_source_builds_from_the_package():
    """The kernel source ships inside the package (setup.py package_data) and the loader
    finds it there."""
    assert os.path.isfile(cpu_ext.SOURCE) and cpu_ext.SOURCE.endswith('.cpp')
    import mmhad
    assert cpu_ext.SOURCE.startswith(os.path.dirname(mmhad.__file__))


def test_build_error_summary_names_the_cause():
    """A failed build is reported by its cause, not by pages of compiler command lines."""
    from mmhad.ops.kernels.cpu_ext import _summary
    exc = RuntimeError(
        "Error building extension 'mmhad_ach_cpu': [1/2] c++ -MMD -isystem /x -c main.cpp\n"
        'FAILED: main.o\nc++ -MMD -isystem /x -c main.cpp\n'
        '/bin/sh: 1: c++: not found\nninja: build stopped: subcommand failed.\n')
    assert _summary(exc) == 'RuntimeError: /bin/sh: 1: c++: not found'
    assert _summary(OSError('ninja is required')) == 'OSError: ninja is required'


def test_install_entry_reports_and_exits_by_mode(monkeypatch, capsys):
    """``tools/install.sh``'s entry: 0 and 'ready' when the kernels build; when they do
    not, the cause and 0 (PyTorch fallback allowed) or 1 (``MMHAD_ACH_CPU_EXT=1``)."""
    monkeypatch.setattr(cpu_ext, 'build', lambda verbose=False: None)
    assert cpu_ext.install_main() == 0
    assert capsys.readouterr().out.startswith('ACH CPU kernel: ready (')

    def fail(verbose=False):
        raise OSError('ninja is required')

    monkeypatch.setattr(cpu_ext, 'build', fail)
    monkeypatch.setenv(cpu_ext.ENV, 'auto')
    assert cpu_ext.install_main() == 0
    assert 'not built (OSError: ninja is required)' in capsys.readouterr().out
    monkeypatch.setenv(cpu_ext.ENV, '1')
    assert cpu_ext.install_main() == 1


def test_install_script_does_not_run_the_loader_as_main():
    """``python -m`` on the loader would run a second copy of a module the package has
    already imported (runpy's RuntimeWarning on every install): the script calls
    ``install_main`` instead."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, 'tools', 'install.sh')) as f:
        script = f.read()
    assert '-m mmhad.ops.kernels.cpu_ext' not in script
    assert 'install_main()' in script
