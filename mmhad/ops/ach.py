"""Fused cross-Hadamard expansion, the core op of Adaptive Cross-Hadamard (ACH).

Given features ``x`` of shape ``(B, C, H, W)`` and, per sample, ``Cs`` selected channel
indices ``idx`` of shape ``(B, Cs)``, the op writes (Hadaptive-Net, Eq. 2)::

    out = concat(x, norm(z_i * z_j) for i < j)        z_s = x[b, idx[b, s]] * w[b, s]

with the normalisation of the products fused as an affine map (optionally preceded by
DySoft's soft-sign)::

    norm(p) = scale * p + shift                        (BN at inference, CrossHadaNorm)
    norm(p) = scale * softsign(alpha * p) + shift      (DySoft)

Pairs are enumerated row-major over the upper triangle (``(0,1), (0,2), .., (1,2), ..``),
the order of the public implementation; ``num_pairs`` keeps only the first pairs, which
gives an exact output width.

``w`` (optional, ``(B, Cs)``) is the straight-through selection weight of training
(Eqs. 5-7): its value is 1 but its gradient reaches the Gumbel-softmax probabilities.
Gathering ``x`` and multiplying by ``w`` gives exactly the values and gradients of the
paper's one-hot matrix product ``Z = M X`` (Eq. 8) without materialising ``M``.

Dispatch (:func:`cross_hadamard`):

* ONNX export / jit tracing / torch.compile: plain ops (Gather, Mul, Add, Div, Abs, Concat).
* no gradient needed: the forward alone, without autograd bookkeeping; on CPU with the
  C++ kernel this is one call (arguments are validated inside the kernel).
* otherwise :class:`CrossHadamardFunction`, an autograd Function whose backward
  recomputes the products instead of storing them.

Forward / backward implementations:

* CPU, default: single-pass C++ kernels for forward and backward (``csrc/ach_cpu.cpp``,
  built by ``tools/install.sh`` into PyTorch's extension cache, or on first use). If they
  cannot be built (no compiler) the op warns once and uses the PyTorch path below;
  ``MMHAD_ACH_CPU_EXT=0`` or ``use_cpu_extension(False)`` selects that path explicitly.
* CPU fallback: PyTorch ops into one preallocated output (no concat, no one-hot).
* CUDA: a Triton kernel (``_ach_triton.py``) writes the whole output in one pass, when
  Triton imports; the backward uses PyTorch ops.

The module imports without Triton, a GPU or mmengine.
"""
import contextlib
import warnings
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

__all__ = [
    'cross_hadamard', 'CrossHadamardFunction', 'cross_hadamard_reference',
    'cross_hadamard_onehot_reference', 'pair_indices', 'num_pairs_of',
    'straight_through_weight', 'onehot_selection_weight', 'use_cpu_extension'
]


def num_pairs_of(cs: int) -> int:
    """Number of unordered pairs ``i < j`` among ``cs`` channels."""
    return cs * (cs - 1) // 2


class _IgnoreWarnings(warnings.catch_warnings):
    def __enter__(self):
        result = super().__enter__()
        warnings.simplefilter('ignore')
        return result


def _quiet_tracer():
    """Silence jit / ONNX TracerWarnings about values recorded as constants (intended:
    ``Cs`` is top-k's static k). Under dynamo (torch.compile / torch.export) a no-op: it
    cannot trace the warnings machinery, and emits no such warnings."""
    if torch.compiler.is_compiling():
        return contextlib.nullcontext()
    return _IgnoreWarnings()


_PAIR_CACHE: Dict[tuple, Tuple[Tensor, Tensor]] = {}


def pair_indices(cs: int, num_pairs: Optional[int] = None,
                 device=None) -> Tuple[Tensor, Tensor]:
    """Row-major upper-triangle pair indices ``(I, J)`` (int64), first ``num_pairs``."""
    hit = _PAIR_CACHE.get((cs, num_pairs, device))          # fast path: exact same args
    if hit is not None:
        return hit
    full = num_pairs_of(cs)
    n = full if num_pairs is None else int(num_pairs)
    if not 0 <= n <= full:
        raise ValueError(f'num_pairs={n} must lie in [0, {full}] for cs={cs}')
    dev = torch.device('cpu') if device is None else torch.device(device)
    key = (cs, n, str(dev))
    hit = _PAIR_CACHE.get(key)
    if hit is None:
        # plain Python so that a first call inside an ONNX / jit trace records constants
        pairs = [(i, j) for i in range(cs) for j in range(i + 1, cs)][:n]
        with _quiet_tracer():                        # TracerWarning: constants, intended
            hit = (torch.tensor([i for i, _ in pairs], dtype=torch.int64, device=dev),
                   torch.tensor([j for _, j in pairs], dtype=torch.int64, device=dev))
        _PAIR_CACHE[key] = hit
    try:
        _PAIR_CACHE[(cs, num_pairs, device)] = hit
    except TypeError:  # unhashable device spec
        pass
    return hit


def _check(x: Tensor, idx: Tensor, weight, scale, shift, alpha, num_pairs):
    if x.dim() != 4:
        raise ValueError(f'x must be (B, C, H, W), got shape {tuple(x.shape)}')
    if idx.dim() != 2 or idx.shape[0] != x.shape[0]:
        raise ValueError(f'idx must be (B, Cs) with B={x.shape[0]}, got {tuple(idx.shape)}')
    cs = idx.shape[1]
    p = num_pairs_of(cs) if num_pairs is None else int(num_pairs)
    if not 0 <= p <= num_pairs_of(cs):
        raise ValueError(f'num_pairs={p} exceeds cs*(cs-1)/2={num_pairs_of(cs)}')
    if weight is not None and tuple(weight.shape) != tuple(idx.shape):
        raise ValueError(f'weight must have shape {tuple(idx.shape)}, got {tuple(weight.shape)}')
    for name, t in (('scale', scale), ('shift', shift)):
        if t is not None and tuple(t.shape) not in ((p, ), (x.shape[0], p)):
            raise ValueError(f'{name} must be ({p},) or ({x.shape[0]}, {p}), '
                             f'got {tuple(t.shape)}')
    if alpha is not None and alpha.numel() != 1:
        raise ValueError('alpha must hold a single value')
    return cs, p


def _gather(x3: Tensor, idx: Tensor) -> Tensor:
    """``x3[b, idx[b, s], :]`` -> (B, Cs, L), contiguous."""
    b, _, l = x3.shape
    return torch.gather(x3, 1, idx.unsqueeze(-1).expand(b, idx.shape[1], l))


def _take_rows(z: Tensor, rows: Tensor) -> Tensor:
    """``z[:, rows]`` for ``z`` (B, Cs, L). On CPU ``index_select`` along dim 1 is fast for
    one sample but degrades badly with the batch (measured 3-9x slower than advanced
    indexing at B=32 on Hadaptive-Net's shapes, torch 2.13), while advanced indexing costs
    ~70 us of fixed overhead."""
    return torch.index_select(z, 1, rows) if z.shape[0] == 1 else z[:, rows]


def _pair_products_into(prod: Tensor, z: Tensor, p: int) -> None:
    """``prod[:, k] = z[:, i_k] * z[:, j_k]`` for the first ``p`` pairs, ``prod`` (B, P, L).

    Batched inputs: one broadcast multiply per triangle row ``i`` (``z_i * z_{i+1..}``),
    Cs - 1 kernels that read ``z`` in place; one sample: two row gathers and a multiply."""
    cs = z.shape[1]
    if z.shape[0] == 1 or z.device.type != 'cpu':
        ii, jj = pair_indices(cs, p, z.device)
        torch.mul(_take_rows(z, ii), _take_rows(z, jj), out=prod)
        return
    k = 0
    for i in range(cs - 1):
        n = min(cs - 1 - i, p - k)
        if n <= 0:
            break
        torch.mul(z[:, i:i + 1], z[:, i + 1:i + 1 + n], out=prod[:, k:k + n])
        k += n


def _bcast(t: Optional[Tensor], like: Tensor) -> Optional[Tensor]:
    """(P,) or (B, P) -> broadcastable against (B, P, L)."""
    if t is None:
        return None
    t = t.to(like.dtype)
    return t.view(1, -1, 1) if t.dim() == 1 else t.unsqueeze(-1)


# --------------------------------------------------------------------------- forward
def _forward_torch(x: Tensor, idx: Tensor, weight, scale, shift, alpha,
                   p: int) -> Tensor:
    """Pure PyTorch, few kernels, no intermediate concat: copy ``x`` into a preallocated
    output, gather the ``Cs`` selected rows once, multiply their pair gathers straight
    into the output slice, then one in-place ``addcmul`` for the affine."""
    bsz, c, h, w = x.shape
    l = h * w
    x3 = x.reshape(bsz, c, l)
    out = x.new_empty(bsz, c + p, l)
    out[:, :c].copy_(x3)
    if p:
        z = _gather(x3, idx)
        if weight is not None:
            z.mul_(weight.to(z.dtype).unsqueeze(-1))
        prod = out[:, c:]
        _pair_products_into(prod, z, p)
        if alpha is not None:
            prod.mul_(alpha.to(x.dtype).reshape(()))
            prod.div_(prod.abs().add_(1))
        s3, t3 = _bcast(scale, prod), _bcast(shift, prod)
        if s3 is not None and t3 is not None:
            torch.addcmul(t3, prod, s3, out=prod)
        elif s3 is not None:
            prod.mul_(s3)
        elif t3 is not None:
            prod.add_(t3)
    return out.view(bsz, c + p, h, w)


def _forward(x, idx, weight, scale, shift, alpha, p):
    global _TRITON
    if p and x.is_cuda and _triton_available():
        try:
            from ._ach_triton import cross_hadamard_triton
            return cross_hadamard_triton(x, idx, weight, scale, shift, alpha, p)
        except Exception as exc:  # e.g. no compiler for this GPU: fall back, once
            _TRITON = False
            warnings.warn(f'mmhad: the ACH Triton kernel failed ({exc!r}); '
                          'using PyTorch ops on CUDA from now on')
    if p and x.device.type == 'cpu':
        ext = _cpu_ext()
        if ext is not None:
            return ext.ach_forward(x, idx, weight, scale, shift, alpha, p)
    return _forward_torch(x, idx, weight, scale, shift, alpha, p)


_UNSET = object()
_EXT = _UNSET        # the loaded C++ module, None for the PyTorch path, _UNSET: not decided


def _cpu_ext():
    """The C++ CPU kernels, or None for the PyTorch path (decided once per process)."""
    global _EXT
    if _EXT is _UNSET:
        from . import _ach_cpu
        _EXT = _ach_cpu.module_or_none()
    return _EXT


def use_cpu_extension(flag: Optional[bool] = True) -> bool:
    """Select the CPU implementation: ``True`` the C++ kernels (built once, ~30 s, cached
    by PyTorch; raises if they cannot be built), ``False`` the pure-PyTorch path, ``None``
    the default (``MMHAD_ACH_CPU_EXT``: the kernels when they build). Returns whether the
    kernels are now in use."""
    global _EXT
    from . import _ach_cpu
    if flag is None:
        _EXT = _UNSET
        return _cpu_ext() is not None
    _EXT = _ach_cpu.build() if flag else None
    return _EXT is not None


_TRITON = None


def _triton_available() -> bool:
    global _TRITON
    if _TRITON is None:
        try:
            import triton  # noqa: F401
            _TRITON = True
        except Exception:  # ImportError, or a broken triton install
            _TRITON = False
    return _TRITON


# --------------------------------------------------------------------------- autograd
class CrossHadamardFunction(torch.autograd.Function):
    """Autograd for :func:`cross_hadamard`; the backward recomputes ``z`` and products.

    Gradients: ``x`` (identity part + scatter of the selected-channel gradients),
    ``weight``, ``scale``, ``shift``, ``alpha``; none for ``idx``.
    """

    @staticmethod
    def forward(ctx, x, idx, weight, scale, shift, alpha, num_pairs):
        ctx.num_pairs = num_pairs
        ctx.save_for_backward(x, idx, weight, scale, shift, alpha)
        return _forward(x, idx, weight, scale, shift, alpha, num_pairs)

    @staticmethod
    def backward(ctx, grad_out):
        x, idx, weight, scale, shift, alpha = ctx.saved_tensors
        p = ctx.num_pairs
        if p and x.device.type == 'cpu':
            ext = _cpu_ext()
            if ext is not None:   # one C++ call: gradients reduced and cast there
                need_x, _, need_w, need_s, need_t, need_a, _ = ctx.needs_input_grad
                gx, gw, gs, gt, ga = ext.ach_backward(grad_out, x, idx, weight, scale, shift,
                                                      alpha, p, need_x, need_w, need_s,
                                                      need_t, need_a)
                return gx, None, gw, gs, gt, ga, None
        bsz, c, h, w = x.shape
        cs = idx.shape[1]
        l = h * w
        go = grad_out.reshape(bsz, c + p, l)
        need_x, _, need_w, need_s, need_t, need_a, _ = ctx.needs_input_grad
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
            zr = _gather(x3, idx)
            z = zr * weight.to(zr.dtype).unsqueeze(-1) if weight is not None else zr
            zi = _take_rows(z, ii)                           # (B, P, L)
            zj = _take_rows(z, jj)
            s3 = _bcast(scale, g)
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
        return gx, None, gw, gs, gt, ga, None


# --------------------------------------------------------------------------- ONNX path
def _forward_onnx(x, idx, weight, scale, shift, alpha, p):
    """Plain, traceable ops: Gather (flat row index), Mul, Add, Concat."""
    bsz, c, h, w = x.shape
    with _quiet_tracer():                            # Cs is static (top-k's k)
        cs = int(idx.shape[1])
    rows = x.reshape(-1, h * w)                              # (B*C, L)
    base = torch.arange(bsz, device=x.device).unsqueeze(1) * c
    z = rows[(idx + base).reshape(-1)].reshape(bsz, cs, h * w)
    if weight is not None:
        z = z * weight.unsqueeze(-1)
    ii, jj = pair_indices(cs, p, x.device)
    y = z[:, ii] * z[:, jj]
    if alpha is not None:
        y = y * alpha
        y = y / (y.abs() + 1)
    if scale is not None:
        y = y * _bcast(scale, y)
    if shift is not None:
        y = y + _bcast(shift, y)
    return torch.cat([x, y.reshape(bsz, p, h, w)], dim=1)


def _in_export() -> bool:
    try:
        if torch.onnx.is_in_onnx_export():
            return True
    except AttributeError:  # pragma: no cover
        pass
    try:
        return bool(torch.compiler.is_exporting())
    except AttributeError:  # pragma: no cover
        return False


# --------------------------------------------------------------------------- public API
def cross_hadamard(x: Tensor,
                   idx: Tensor,
                   weight: Optional[Tensor] = None,
                   scale: Optional[Tensor] = None,
                   shift: Optional[Tensor] = None,
                   alpha: Optional[Tensor] = None,
                   num_pairs: Optional[int] = None) -> Tensor:
    """``concat(x, scale * act(z_i * z_j) + shift)`` over the first ``num_pairs`` pairs.

    Args:
        x: ``(B, C, H, W)`` features.
        idx: ``(B, Cs)`` int64 selected channels per sample (distinct per row for the
            one-hot equivalence; duplicates are still handled consistently).
        weight: ``(B, Cs)`` optional multiplier of the selected channels (the
            straight-through selection weight in training).
        scale, shift: ``(P,)`` or ``(B, P)`` fused normalisation affine, optional.
        alpha: one-element tensor; if given ``act(p) = alpha p / (1 + |alpha p|)``.
        num_pairs: keep the first ``num_pairs`` pairs (default all ``Cs(Cs-1)/2``).

    Returns:
        ``(B, C + P, H, W)`` tensor.
    """
    # Fast path (inference on CPU): one call into the C++ kernel, which validates the
    # arguments itself; the checks here are the cheap ones (~0.4 us together).
    ext = _EXT if _EXT is not _UNSET else _cpu_ext()
    if (ext is not None and x.is_cpu and torch._C._get_tracing_state() is None
            and not torch.compiler.is_compiling()):
        if not torch.is_grad_enabled():
            return ext.ach_forward(x, idx, weight, scale, shift, alpha, num_pairs)
        if x.dim() == 4 and idx.dim() == 2:          # else: the checks below say why
            p = num_pairs_of(idx.shape[1]) if num_pairs is None else int(num_pairs)
            if p > 0:                                 # p == 0 (a copy) / p < 0: below
                return CrossHadamardFunction.apply(x, idx, weight, scale, shift, alpha, p)
    if _in_export() or torch.jit.is_tracing() or torch.jit.is_scripting() \
            or torch.compiler.is_compiling():
        with _quiet_tracer():                        # Cs is static (top-k's k)
            p = num_pairs_of(int(idx.shape[1])) if num_pairs is None else int(num_pairs)
        return _forward_onnx(x, idx.long(), weight, scale, shift, alpha, p)
    cs, p = _check(x, idx, weight, scale, shift, alpha, num_pairs)
    idx = idx.long()
    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, weight, scale, shift, alpha))
    if not needs_grad:
        return _forward(x.contiguous(), idx.contiguous(), weight, scale, shift, alpha, p)
    return CrossHadamardFunction.apply(x.contiguous(), idx.contiguous(), weight, scale,
                                       shift, alpha, p)


# --------------------------------------------------------------------------- references
def _normalised_products_cat(x, z, ii, jj, scale, shift, alpha) -> Tensor:
    """``cat(x, norm(z_i * z_j))`` with plain ops: the tail both references share."""
    y = z[:, ii] * z[:, jj]
    if alpha is not None:
        y = alpha * y
        y = y / (1 + torch.abs(y))
    if scale is not None:
        y = y * (scale.view(1, -1, 1, 1) if scale.dim() == 1 else scale[:, :, None, None])
    if shift is not None:
        y = y + (shift.view(1, -1, 1, 1) if shift.dim() == 1 else shift[:, :, None, None])
    return torch.cat([x, y], dim=1)


def cross_hadamard_reference(x, idx, weight=None, scale=None, shift=None, alpha=None,
                             num_pairs=None) -> Tensor:
    """Plain PyTorch composition (gather, index, multiply, normalise, cat).

    The way the public implementation runs inference; used by tests and the benchmark.
    """
    cs, p = _check(x, idx, weight, scale, shift, alpha, num_pairs)
    bsz = x.shape[0]
    ii, jj = pair_indices(cs, p, x.device)
    batch = torch.arange(bsz, device=x.device).unsqueeze(-1).expand_as(idx)
    z = x[batch, idx]
    if weight is not None:
        z = z * weight[:, :, None, None]
    return _normalised_products_cat(x, z, ii, jj, scale, shift, alpha)


def onehot_selection_weight(soft: Tensor, idx: Tensor, sign: float = 1.0) -> Tensor:
    """Straight-through ``M^H`` (Eq. 5) of a soft mask ``(B, C)`` and its top-k ``idx``.

    ``sign=-1`` reproduces the public code (``hard + soft.detach() - soft``), whose
    gradient reaches ``soft`` negated.
    """
    hard = torch.zeros_like(soft).scatter_(1, idx, 1.0)
    return hard + sign * (soft - soft.detach())


def cross_hadamard_onehot_reference(x, idx, soft, scale=None, shift=None, alpha=None,
                                    num_pairs=None, sign: float = 1.0) -> Tensor:
    """Training composition of the paper / public code: ``Z = (M' * M^H) X`` (Eqs. 5-8).

    ``soft`` is the Gumbel-softmax mask ``(B, C)``; builds the dense ``(B, Cs, C)``
    one-hot matrix. Equivalent (values and gradients) to
    ``cross_hadamard(x, idx, weight=1 + soft.gather(idx) - soft.gather(idx).detach())``.
    """
    bsz, c, h, w = x.shape
    cs = idx.shape[1]
    mh = onehot_selection_weight(soft, idx, sign)            # (B, C)
    onehot = torch.zeros(bsz, cs, c, device=x.device, dtype=x.dtype)
    onehot.scatter_(2, idx.unsqueeze(-1), 1.0)
    mat = onehot * mh.unsqueeze(1)
    z = (mat @ x.flatten(2)).view(bsz, cs, h, w)
    _, p = _check(x, idx, None, scale, shift, alpha, num_pairs)
    ii, jj = pair_indices(cs, p, x.device)
    return _normalised_products_cat(x, z, ii, jj, scale, shift, alpha)


def straight_through_weight(soft: Tensor, idx: Tensor, sign: float = 1.0) -> Tensor:
    """``M^H`` gathered at the selected channels: value 1, gradient ``sign`` to ``soft``."""
    g = soft.gather(1, idx)
    g = g - g.detach()
    return (g if sign == 1.0 else g * sign) + 1.0
