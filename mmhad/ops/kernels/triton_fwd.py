"""Triton kernel for the cross-Hadamard forward on CUDA.

Imported lazily by :mod:`mmhad.ops.dispatch` (Triton is optional) and importing only
:mod:`mmhad.ops.pairs` from the package.

One pass over the output: each program owns a ``(BLOCK_C, BLOCK_L)`` tile of output
channels x pixels of one sample. Identity channels copy ``x``; product channel ``k`` looks
up its pair ``(i, j)``, the sample's selected input channels ``idx[b, i], idx[b, j]``,
multiplies, applies the optional soft-sign and affine, and stores -- gather, products,
normalisation and concatenation fused, accumulating in float32.
"""
import torch
import triton
import triton.language as tl

from ..pairs import pair_indices


@triton.jit
def _cross_hadamard_fwd(x_ptr, idx_ptr, w_ptr, ii_ptr, jj_ptr, s_ptr, t_ptr, a_ptr, out_ptr,
                        C, CS, P, L, s_bstride, t_bstride,
                        HAS_W: tl.constexpr, HAS_S: tl.constexpr, HAS_T: tl.constexpr,
                        HAS_A: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_L: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)
    ch = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    ls = tl.program_id(2) * BLOCK_L + tl.arange(0, BLOCK_L)
    lmask = ls < L
    is_id = ch < C
    is_pr = (ch >= C) & (ch < C + P)
    k = tl.where(is_pr, ch - C, 0)
    i = tl.load(ii_ptr + k, mask=is_pr, other=0)
    j = tl.load(jj_ptr + k, mask=is_pr, other=0)
    ca = tl.load(idx_ptr + b * CS + i, mask=is_pr, other=0)
    cb = tl.load(idx_ptr + b * CS + j, mask=is_pr, other=0)
    src = tl.where(is_id, ch.to(tl.int64), ca)

    x_base = x_ptr + b * C * L
    m_all = (is_id | is_pr)[:, None] & lmask[None, :]
    m_pr = is_pr[:, None] & lmask[None, :]
    va = tl.load(x_base + src[:, None] * L + ls[None, :], mask=m_all, other=0.).to(tl.float32)
    vb = tl.load(x_base + cb[:, None] * L + ls[None, :], mask=m_pr, other=0.).to(tl.float32)
    prod = va * vb
    if HAS_W:
        wi = tl.load(w_ptr + b * CS + i, mask=is_pr, other=1.).to(tl.float32)
        wj = tl.load(w_ptr + b * CS + j, mask=is_pr, other=1.).to(tl.float32)
        prod = prod * (wi * wj)[:, None]
    if HAS_A:
        a = tl.load(a_ptr).to(tl.float32)
        u = prod * a
        prod = u / (1. + tl.abs(u))
    if HAS_S:
        s = tl.load(s_ptr + b * s_bstride + k, mask=is_pr, other=1.).to(tl.float32)
        prod = prod * s[:, None]
    if HAS_T:
        t = tl.load(t_ptr + b * t_bstride + k, mask=is_pr, other=0.).to(tl.float32)
        prod = prod + t[:, None]
    res = tl.where(is_id[:, None], va, prod)
    out_base = out_ptr + b * (C + P) * L
    tl.store(out_base + ch[:, None].to(tl.int64) * L + ls[None, :],
             res.to(out_ptr.dtype.element_ty), mask=m_all)


def cross_hadamard_triton(x, idx, weight, scale, shift, alpha, p):
    """Same contract as :func:`mmhad.ops.kernels.pytorch.forward_torch` (no autograd)."""
    bsz, c, h, w = x.shape
    cs = idx.shape[1]
    l = h * w
    x = x.contiguous()
    idx = idx.to(device=x.device, dtype=torch.int64).contiguous()
    out = torch.empty(bsz, c + p, h, w, device=x.device, dtype=x.dtype)
    ii, jj = pair_indices(cs, p, x.device)

    def prep(t):
        return None if t is None else t.detach().to(x.device).contiguous()

    weight, scale, shift, alpha = prep(weight), prep(scale), prep(shift), prep(alpha)
    dummy = out
    block_l = min(128, triton.next_power_of_2(max(l, 1)))
    block_c = max(1, min(64, 4096 // block_l))
    grid = (bsz, triton.cdiv(c + p, block_c), triton.cdiv(l, block_l))
    _cross_hadamard_fwd[grid](
        x, idx, weight if weight is not None else dummy, ii, jj,
        scale if scale is not None else dummy, shift if shift is not None else dummy,
        alpha if alpha is not None else dummy, out,
        c, cs, p, l,
        p if scale is not None and scale.dim() == 2 else 0,
        p if shift is not None and shift.dim() == 2 else 0,
        HAS_W=weight is not None, HAS_S=scale is not None, HAS_T=shift is not None,
        HAS_A=alpha is not None, BLOCK_C=block_c, BLOCK_L=block_l, num_warps=4)
    return out
