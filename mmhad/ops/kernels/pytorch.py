"""The pure-PyTorch implementation of the cross-Hadamard op: forward and backward.

The CPU fallback when the C++ kernels are off or cannot be built, the CUDA path without
Triton, and the CUDA backward. The forward writes into one preallocated output (no concat,
no one-hot matrix); the backward recomputes the selected channels and their products
instead of storing them. Neither records autograd: :mod:`mmhad.ops.function` wraps them.
"""
from typing import Optional

import torch
from torch import Tensor

from ..pairs import pair_indices

__all__ = ['forward_torch', 'backward_torch', 'bcast_affine']


def gather_rows(x3: Tensor, idx: Tensor) -> Tensor:
    """``x3[b, idx[b, s], :]`` -> (B, Cs, L), contiguous."""
    b, _, l = x3.shape
    return torch.gather(x3, 1, idx.unsqueeze(-1).expand(b, idx.shape[1], l))


def take_rows(z: Tensor, rows: Tensor) -> Tensor:
    """``z[:, rows]`` for ``z`` (B, Cs, L). On CPU ``index_select`` along dim 1 is fast for
    one sample but degrades badly with the batch (measured 3-9x slower than advanced
    indexing at B=32 on Hadaptive-Net's shapes, torch 2.13), while advanced indexing costs
    ~70 us of fixed overhead."""
    return torch.index_select(z, 1, rows) if z.shape[0] == 1 else z[:, rows]


def pair_products_into(prod: Tensor, z: Tensor, p: int) -> None:
    """``prod[:, k] = z[:, i_k] * z[:, j_k]`` for the first ``p`` pairs, ``prod`` (B, P, L).

    Batched inputs: one broadcast multiply per triangle row ``i`` (``z_i * z_{i+1..}``),
    Cs - 1 kernels that read ``z`` in place; one sample: two row gathers and a multiply."""
    cs = z.shape[1]
    if z.shape[0] == 1 or z.device.type != 'cpu':
        ii, jj = pair_indices(cs, p, z.device)
        torch.mul(take_rows(z, ii), take_rows(z, jj), out=prod)
        return
    k = 0
    for i in range(cs - 1):
        n = min(cs - 1 - i, p - k)
        if n <= 0:
            break
        torch.mul(z[:, i:i + 1], z[:, i + 1:i + 1 + n], out=prod[:, k:k + n])
        k += n


def bcast_affine(t: Optional[Tensor], like: Tensor) -> Optional[Tensor]:
    """(P,) or (B, P) -> broadcastable against (B, P, L)."""
    if t is None:
        return None
    t = t.to(like.dtype)
    return t.view(1, -1, 1) if t.dim() == 1 else t.unsqueeze(-1)


def forward_torch(x: Tensor, idx: Tensor, weight, scale, shift, alpha, p: int) -> Tensor:
    """Pure PyTorch, few kernels, no intermediate concat: copy ``x`` into a preallocated
    output, gather the ``Cs`` selected rows once, multiply their pair gathers straight
    into the output slice, then one in-place ``addcmul`` for the affine."""
    bsz, c, h, w = x.shape
    l = h * w
    x3 = x.reshape(bsz, c, l)
    out = x.new_empty(bsz, c + p, l)
    out[:, :c].copy_(x3)
    if p:
        z = gather_rows(x3, idx)
        if weight is not None:
            z.mul_(weight.to(z.dtype).unsqueeze(-1))
        prod = out[:, c:]
        pair_products_into(prod, z, p)
        if alpha is not None:
            prod.mul_(alpha.to(x.dtype).reshape(()))
            prod.div_(prod.abs().add_(1))
        s3, t3 = bcast_affine(scale, prod), bcast_affine(shift, prod)
        if s3 is not None and t3 is not None:
            torch.addcmul(t3, prod, s3, out=prod)
        elif s3 is not None:
            prod.mul_(s3)
        elif t3 is not None:
            prod.add_(t3)
    return out.view(bsz, c + p, h, w)


def backward_torch(grad_out: Tensor, x: Tensor, idx: Tensor, weight, scale, shift, alpha,
                   p: int, need_x: bool, need_w: bool, need_s: bool, need_t: bool,
                   need_a: bool):
    """Gradients ``(gx, gw, gs, gt, ga)`` of :func:`forward_torch` (``None`` where not
    needed), recomputing ``z`` and the products; same contract as the C++
    ``ach_backward``."""
    bsz, c, h, w = x.shape
    cs = idx.shape[1]
    l = h * w
    go = grad_out.reshape(bsz, c + p, l)
    gx = gw = gs = gt = ga = None

    x3 = x.reshape(bsz, c, l)
    idx = idx.long()
    g = go[:, c:]
    if need_t:
        gt = g.sum(-1)
        gt = gt.sum(0) if shift.dim() == 1 else gt
        gt = gt.to(shift.dtype)
    if p and (need_x or need_w or need_s or need_a):
        ii, jj = pair_indices(cs, p, x.device)
        zr = gather_rows(x3, idx)
        z = zr * weight.to(zr.dtype).unsqueeze(-1) if weight is not None else zr
        zi = take_rows(z, ii)                            # (B, P, L)
        zj = take_rows(z, jj)
        s3 = bcast_affine(scale, g)
        gp = g * s3 if s3 is not None else g.clone()     # d out / d act(p)
        if alpha is not None or need_s:
            prod = zi * zj
            if alpha is not None:
                a = alpha.to(prod.dtype).reshape(())
                den = (prod * a).abs_().add_(1)          # 1 + |alpha p|
                if need_s:
                    gs = torch.linalg.vecdot(g, prod * a / den)
                den.pow_(2)
                gp.div_(den)                             # d softsign / d(alpha p)
                del den
                if need_a:
                    ga = torch.linalg.vecdot(gp, prod).sum()
                    ga = ga.reshape(alpha.shape).to(alpha.dtype)
                gp.mul_(a)
            else:
                gs = torch.linalg.vecdot(g, prod)
            del prod
        if gs is not None:
            gs = (gs.sum(0) if scale.dim() == 1 else gs).to(scale.dtype)
        if need_x or need_w:
            gz = torch.zeros_like(z)
            gz.index_add_(1, ii, zj.mul_(gp))
            gz.index_add_(1, jj, zi.mul_(gp))
            del zi, zj
            if need_w:
                gw = torch.linalg.vecdot(gz, zr).to(weight.dtype)
            if need_x:
                if weight is not None:
                    gz.mul_(weight.to(gz.dtype).unsqueeze(-1))
                gx = go[:, :c].clone(memory_format=torch.contiguous_format)
                gx.scatter_add_(1, idx.unsqueeze(-1).expand(bsz, cs, l), gz)
    elif need_x:
        gx = go[:, :c].clone(memory_format=torch.contiguous_format)
    elif need_s:
        gs = torch.zeros_like(scale)
    if need_a and ga is None:
        ga = torch.zeros_like(alpha)
    if need_w and gw is None:
        gw = torch.zeros_like(weight)
    if gx is not None:
        gx = gx.view(bsz, c, h, w)
    return gx, gw, gs, gt, ga
