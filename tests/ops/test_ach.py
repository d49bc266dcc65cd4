"""The fused cross-Hadamard op (mmhad.ops): gradients, equivalences, dispatch paths."""
import os

import pytest
import torch

from mmhad.ops import (CrossHadamardFunction, cross_hadamard, num_pairs_of, pair_indices,
                       straight_through_weight, use_cpu_extension)
from mmhad.ops.kernels.traceable import forward_traceable
from tests.helpers import ach_affine as _affine
from tests.helpers import ach_inputs as _inputs
from tests.helpers import has_cxx_compiler
from tests.ops.ach_reference import cross_hadamard_onehot_reference, cross_hadamard_reference


@pytest.fixture(autouse=True, params=['ext', 'torch'])
def cpu_impl(request):
    """Every test here runs on both CPU implementations: the C++ kernels (the default,
    built by tools/install.sh; CI has a compiler) and the pure-PyTorch fallback."""
    if request.param == 'ext' and not has_cxx_compiler():
        pytest.skip('no C++ compiler: the CPU kernels cannot be built')
    assert use_cpu_extension(request.param == 'ext') == (request.param == 'ext')
    yield request.param
    use_cpu_extension(None)


def test_pair_order_is_row_major_upper_triangle():
    ii, jj = pair_indices(4)
    assert ii.tolist() == [0, 0, 0, 1, 1, 2]
    assert jj.tolist() == [1, 2, 3, 2, 3, 3]
    ii, jj = pair_indices(4, 4)
    assert list(zip(ii.tolist(), jj.tolist())) == [(0, 1), (0, 2), (0, 3), (1, 2)]
    with pytest.raises(ValueError):
        pair_indices(4, 7)


@pytest.mark.parametrize('num_pairs', [None, 4])
@pytest.mark.parametrize('affine', [None, 'channel', 'sample'])
@pytest.mark.parametrize('softsign', [False, True])
def test_gradcheck_float64(num_pairs, affine, softsign):
    x, idx, g = _inputs()
    b, cs = idx.shape
    p = num_pairs_of(cs) if num_pairs is None else num_pairs
    weight = torch.rand(b, cs, generator=g, dtype=torch.float64) + 0.5
    scale, shift = _affine(affine, b, p, torch.float64, g)
    alpha = torch.tensor([0.7], dtype=torch.float64) if softsign else None
    leaves = [t.requires_grad_() if t is not None else None
              for t in (x, weight, scale, shift, alpha)]

    def fn(x, weight, scale, shift, alpha):
        return CrossHadamardFunction.apply(x, idx, weight, scale, shift, alpha, p)

    assert torch.autograd.gradcheck(fn, tuple(leaves))
    # and the public entry point agrees with the plain composition
    out = cross_hadamard(*leaves[:1], idx, *leaves[1:], num_pairs=num_pairs)
    ref = cross_hadamard_reference(*leaves[:1], idx, *leaves[1:], num_pairs=num_pairs)
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize('affine', [None, 'channel', 'sample'])
@pytest.mark.parametrize('softsign', [False, True])
@pytest.mark.parametrize('batch', [1, 3])
def test_fused_matches_composition_values_and_grads(affine, softsign, batch):
    """Inference path and autograd path vs. gather -> index -> mul -> norm -> cat."""
    x, idx, g = _inputs(b=batch, c=12, cs=5, h=4, w=5, dtype=torch.float32)
    p = num_pairs_of(5)
    scale, shift = _affine(affine, batch, p, torch.float32, g)
    alpha = torch.tensor([0.6]) if softsign else None
    with torch.no_grad():
        torch.testing.assert_close(
            cross_hadamard(x, idx, None, scale, shift, alpha),
            cross_hadamard_reference(x, idx, None, scale, shift, alpha))

    leaves = [t.clone().requires_grad_() for t in (x, scale, shift, alpha) if t is not None]
    leaves_ref = [t.clone().requires_grad_() for t in leaves]

    def unpack(ls):
        it = iter(ls)
        xx = next(it)
        s = next(it) if scale is not None else None
        t = next(it) if shift is not None else None
        a = next(it) if alpha is not None else None
        return xx, s, t, a

    xx, s, t, a = unpack(leaves)
    out = cross_hadamard(xx, idx, None, s, t, a)
    xr, sr, tr, ar = unpack(leaves_ref)
    ref = cross_hadamard_reference(xr, idx, None, sr, tr, ar)
    torch.testing.assert_close(out, ref)
    gout = torch.randn_like(ref)
    gout_copy = gout.clone()
    grads = torch.autograd.grad(out, leaves, gout)
    grads_ref = torch.autograd.grad(ref, leaves_ref, gout)
    for got, exp in zip(grads, grads_ref):
        torch.testing.assert_close(got, exp, rtol=1e-5, atol=1e-5)
    assert torch.equal(gout, gout_copy), 'backward must not write into grad_output'


@pytest.mark.parametrize('sign', [1.0, -1.0])
@pytest.mark.parametrize('softsign', [False, True])
def test_gather_with_straight_through_weight_equals_onehot_matmul(sign, softsign):
    """Eqs. 5-8 without the (B, Cs, C) one-hot matrix: same values and same gradients
    for x, the soft Gumbel mask and the normalisation parameters."""
    b, c, cs = 3, 10, 4
    x, _, g = _inputs(b=b, c=c, cs=cs, h=3, w=3, dtype=torch.float64)
    soft = torch.randn(b, c, generator=g, dtype=torch.float64).softmax(1)
    idx = soft.topk(cs, dim=1).indices
    p = num_pairs_of(cs)
    scale, shift = _affine('sample', b, p, torch.float64, g)
    alpha = torch.tensor([0.8], dtype=torch.float64) if softsign else None
    leaves = [t for t in (x, soft, scale, shift, alpha) if t is not None]
    a = [t.clone().requires_grad_() for t in leaves]
    r = [t.clone().requires_grad_() for t in leaves]
    al = a[4] if softsign else None
    ar = r[4] if softsign else None

    out = cross_hadamard(a[0], idx, straight_through_weight(a[1], idx, sign), a[2], a[3], al)
    ref = cross_hadamard_onehot_reference(r[0], idx, r[1], r[2], r[3], ar, sign=sign)
    torch.testing.assert_close(out, ref)
    gout = torch.randn(out.shape, generator=g, dtype=torch.float64)
    for got, exp in zip(torch.autograd.grad(out, a, gout), torch.autograd.grad(ref, r, gout)):
        torch.testing.assert_close(got, exp)
    # the soft mask does receive gradient, at the selected channels only
    gsoft = torch.autograd.grad(
        cross_hadamard(x, idx, straight_through_weight(a[1], idx, sign)), a[1],
        gout[:, :c + p])[0]
    unselected = torch.ones_like(gsoft, dtype=torch.bool).scatter_(1, idx, False)
    assert gsoft[unselected].abs().max() == 0 and gsoft.abs().max() > 0


def test_inference_and_training_paths_agree():
    x, idx, g = _inputs(b=4, c=16, cs=6, h=5, w=5, dtype=torch.float32)
    p = num_pairs_of(6)
    scale, shift = _affine('channel', 4, p, torch.float32, g)
    alpha = torch.tensor([0.4])
    soft = torch.rand(4, 16, generator=g).requires_grad_()
    w = straight_through_weight(soft, idx)
    with torch.no_grad():
        infer = cross_hadamard(x, idx, None, scale, shift, alpha)
    train = cross_hadamard(x.requires_grad_(), idx, w, scale, shift, alpha)
    assert train.requires_grad
    torch.testing.assert_close(train.detach(), infer)


def test_onnx_branch_matches():
    x, idx, g = _inputs(b=2, c=9, cs=5, h=3, w=4, dtype=torch.float32)
    scale, shift = _affine('sample', 2, 7, torch.float32, g)
    alpha = torch.tensor([0.3])
    torch.testing.assert_close(
        forward_traceable(x, idx, None, scale, shift, alpha, 7),
        cross_hadamard_reference(x, idx, None, scale, shift, alpha, num_pairs=7))


def test_shapes_and_validation():
    x, idx, _ = _inputs(b=2, c=9, cs=5, dtype=torch.float32)
    assert cross_hadamard(x, idx).shape == (2, 9 + 10, 3, 2)
    assert cross_hadamard(x, idx, num_pairs=3).shape == (2, 12, 3, 2)
    torch.testing.assert_close(cross_hadamard(x, idx, num_pairs=0), x)
    torch.testing.assert_close(cross_hadamard(x, idx[:, :1]), x)
    with pytest.raises(ValueError):
        cross_hadamard(x, idx, scale=torch.ones(4))
    with pytest.raises(ValueError):
        cross_hadamard(x[0], idx)
    # half precision runs (values only)
    out = cross_hadamard(x.bfloat16(), idx, scale=torch.ones(10), shift=torch.zeros(10))
    torch.testing.assert_close(out.float(), cross_hadamard(x, idx), rtol=2e-2, atol=2e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('dtype', [torch.float32, torch.float16])
def test_cuda_kernel_matches_reference(dtype):
    x, idx, g = _inputs(b=3, c=40, cs=9, h=7, w=5, dtype=torch.float32)
    scale, shift = _affine('sample', 3, 30, torch.float32, g)
    alpha = torch.tensor([0.5])
    args = [t.cuda() for t in (x, idx, scale, shift, alpha)]
    args[0] = args[0].to(dtype)
    soft = torch.rand(3, 9, device='cuda')
    for a in (None, args[4]):
        with torch.no_grad():
            out = cross_hadamard(args[0], args[1], soft + 0.5, args[2], args[3], a, 30)
            ref = cross_hadamard_reference(args[0], args[1], (soft + 0.5).to(dtype),
                                           args[2].to(dtype), args[3].to(dtype),
                                           None if a is None else a.to(dtype), 30)
        tol = 1e-5 if dtype == torch.float32 else 2e-2
        torch.testing.assert_close(out, ref, rtol=tol, atol=tol)
    # autograd on CUDA (forward via the kernel, backward via torch ops)
    xx = args[0].float().requires_grad_()
    out = cross_hadamard(xx, args[1], None, args[2], args[3], args[4])
    xr = xx.detach().clone().requires_grad_()
    ref = cross_hadamard_reference(xr, args[1], None, args[2], args[3], args[4])
    gout = torch.randn_like(ref)
    torch.testing.assert_close(torch.autograd.grad(out, xx, gout)[0],
                               torch.autograd.grad(ref, xr, gout)[0], rtol=1e-4, atol=1e-4)


def test_triton_kernel_logic_in_interpreter(tmp_path):
    """Runs the CUDA Triton kernel through Triton's CPU interpreter (TRITON_INTERPRET=1)
    in a subprocess, so its indexing / masking / fusion is checked without a GPU."""
    pytest.importorskip('triton')
    import subprocess
    import sys
    import textwrap
    script = tmp_path / 'tri.py'
    script.write_text(textwrap.dedent("""
        import torch
        from mmhad.ops.kernels.triton_fwd import cross_hadamard_triton
        from tests.ops.ach_reference import cross_hadamard_reference
        g = torch.Generator().manual_seed(0)
        x = torch.randn(2, 9, 3, 5, generator=g)
        idx = torch.stack([torch.randperm(9, generator=g)[:5] for _ in range(2)])
        w = torch.rand(2, 5, generator=g) + 0.5
        s, t = torch.rand(2, 8, generator=g), torch.randn(2, 8, generator=g)
        for args in [(None, None, None, None), (w, s, t, torch.tensor([0.4])),
                     (None, s[0], t[0], None)]:
            out = cross_hadamard_triton(x, idx, *args, 8)
            ref = cross_hadamard_reference(x, idx, *args, num_pairs=8)
            torch.testing.assert_close(out, ref)
        print('OK')
    """))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, TRITON_INTERPRET='1',
               PYTHONPATH=repo + os.pathsep + os.environ.get('PYTHONPATH', ''))
    res = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0 and 'OK' in res.stdout, res.stderr[-3000:]


def test_fast_path_validates_and_converts(cpu_impl):
    """Under no_grad the kernels are one call; bad arguments still get the clear
    ValueErrors of the Python checks, and odd layouts / index dtypes are accepted."""
    x, idx, g = _inputs(b=2, c=9, cs=5, h=3, w=4, dtype=torch.float32)
    scale, shift = _affine('channel', 2, 10, torch.float32, g)
    ref = cross_hadamard_reference(x, idx, None, scale, shift)
    with torch.no_grad():
        xt = x.transpose(2, 3).contiguous().transpose(2, 3)          # non-contiguous
        assert not xt.is_contiguous()
        torch.testing.assert_close(cross_hadamard(xt, idx.int(), None, scale, shift), ref)
        bad = [
            (dict(scale=torch.ones(4)), 'scale must be'),
            (dict(num_pairs=11), 'num_pairs=11'),
            (dict(num_pairs=-1), 'num_pairs=-1'),
            (dict(weight=torch.ones(2, 4)), 'weight must have shape'),
            (dict(alpha=torch.ones(2)), 'alpha must hold a single value'),
        ]
        for kwargs, msg in bad:
            with pytest.raises(ValueError, match=msg):
                cross_hadamard(x, idx, **kwargs)
        with pytest.raises(ValueError, match=r'x must be \(B, C, H, W\)'):
            cross_hadamard(x[0], idx)
        with pytest.raises(ValueError, match=r'idx must be \(B, Cs\)'):
            cross_hadamard(x, idx[0])
    if cpu_impl == 'ext':  # the PyTorch path relies on torch.gather's own index error
        for bad_idx in (idx + 9, idx - 10):
            with torch.no_grad(), pytest.raises(ValueError, match=r'idx values must lie'):
                cross_hadamard(x, bad_idx)
            with pytest.raises(ValueError, match=r'idx values must lie'):
                cross_hadamard(x.clone().requires_grad_(), bad_idx)


def test_torch_compile_traces_plain_ops(cpu_impl):
    """Under torch.compile (dynamo) the op takes its traceable path instead of the C++
    call, so a compiled model gets the same values (backend='eager': dynamo only)."""
    x, idx, g = _inputs(b=2, c=9, cs=5, h=3, w=4, dtype=torch.float32)
    scale, shift = _affine('channel', 2, 10, torch.float32, g)
    fn = torch.compile(lambda x, idx: cross_hadamard(x, idx, None, scale, shift),
                       backend='eager', fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(fn(x, idx), cross_hadamard_reference(x, idx, None, scale,
                                                                        shift))
