"""The public cross-Hadamard op: :func:`cross_hadamard` and its autograd
:class:`CrossHadamardFunction` -- the core op of Adaptive Cross-Hadamard (ACH).

Given features ``x`` of shape ``(B, C, H, W)`` and, per sample, ``Cs`` selected channel
indices ``idx`` of shape ``(B, Cs)``, the op writes (Hadaptive-Net, Eq. 2)::

    out = concat(x, norm(z_i * z_j) for i < j)        z_s = x[b, idx[b, s]] * w[b, s]

with the normalisation of the products fused as an affine map (optionally preceded by
DySoft's soft-sign)::

    norm(p) = scale * p + shift                        (BN at inference, CrossHadaNorm)
    norm(p) = scale * softsign(alpha * p) + shift      (DySoft)

Pairs follow :func:`mmhad.ops.pair_indices` (row-major upper triangle); ``num_pairs``
keeps only the first pairs, which gives an exact output width.

``w`` (optional, ``(B, Cs)``) is the straight-through selection weight of training
(Eqs. 5-7, :func:`mmhad.ops.straight_through_weight`): its value is 1 but its gradient
reaches the Gumbel-softmax probabilities. Gathering ``x`` and multiplying by ``w`` gives
exactly the values and gradients of the paper's one-hot matrix product ``Z = M X``
(Eq. 8) without materialising ``M``.

Paths of :func:`cross_hadamard`:

* ONNX export (TorchScript exporter, opset >= 12), inference: one symbolic of ten ONNX
  nodes at most (:mod:`.kernels.onnx_graph`).
* otherwise under ONNX export / torch.export / jit tracing / torch.compile: plain ops
  (:mod:`.kernels.traceable`).
* no gradient needed: the forward alone, without autograd bookkeeping; on CPU with the
  C++ kernel this is one call (arguments are validated inside the kernel).
* otherwise :class:`CrossHadamardFunction`, an autograd Function whose backward
  recomputes the products instead of storing them.

Forward / backward implementations are chosen by :mod:`.dispatch`:

* CPU, default: single-pass C++ kernels for forward and backward (``csrc/ach_cpu.cpp``,
  built by ``tools/install.sh`` into PyTorch's extension cache, or on first use). If they
  cannot be built (no compiler) the op warns once and uses the PyTorch path below;
  ``MMHAD_ACH_CPU_EXT=0`` or ``use_cpu_extension(False)`` selects that path explicitly.
* CPU fallback: PyTorch ops into one preallocated output (no concat, no one-hot).
* CUDA: a Triton kernel (:mod:`.kernels.triton_fwd`) writes the whole output in one
  pass, when Triton imports; the backward uses PyTorch ops.

The module imports without Triton, a GPU or mmengine.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from . import dispatch
from .dispatch import STATE, UNDECIDED, cpu_extension
from .kernels.onnx_graph import MIN_OPSET, forward_onnx
from .kernels.traceable import forward_traceable
from .pairs import num_pairs_of
from .tracing import in_onnx_symbolic_export, is_traced, quiet_tracer

__all__ = ['cross_hadamard', 'CrossHadamardFunction', 'check_arguments']


def check_arguments(x: Tensor, idx: Tensor, weight, scale, shift, alpha,
                    num_pairs) -> Tuple[int, int]:
    """Validate the arguments of :func:`cross_hadamard` (``ValueError`` naming the bad
    one); returns ``(Cs, P)``."""
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


class CrossHadamardFunction(torch.autograd.Function):
    """Autograd for :func:`cross_hadamard`; the backward recomputes ``z`` and products.

    Gradients: ``x`` (identity part + scatter of the selected-channel gradients),
    ``weight``, ``scale``, ``shift``, ``alpha``; none for ``idx``.
    """

    @staticmethod
    def forward(ctx, x, idx, weight, scale, shift, alpha, num_pairs):
        ctx.num_pairs = num_pairs
        ctx.save_for_backward(x, idx, weight, scale, shift, alpha)
        return dispatch.forward(x, idx, weight, scale, shift, alpha, num_pairs)

    @staticmethod
    def backward(ctx, grad_out):
        x, idx, weight, scale, shift, alpha = ctx.saved_tensors
        need_x, _, need_w, need_s, need_t, need_a, _ = ctx.needs_input_grad
        gx, gw, gs, gt, ga = dispatch.backward(grad_out, x, idx, weight, scale, shift, alpha,
                                               ctx.num_pairs, need_x, need_w, need_s,
                                               need_t, need_a)
        return gx, None, gw, gs, gt, ga, None


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
    ext = STATE.cpu_ext
    if ext is UNDECIDED:
        ext = cpu_extension()
    if (ext is not None and x.is_cpu and torch._C._get_tracing_state() is None
            and not torch.compiler.is_compiling()):
        if not torch.is_grad_enabled():
            return ext.ach_forward(x, idx, weight, scale, shift, alpha, num_pairs)
        if x.dim() == 4 and idx.dim() == 2:          # else: the checks below say why
            p = num_pairs_of(idx.shape[1]) if num_pairs is None else int(num_pairs)
            if p > 0:                                 # p == 0 (a copy) / p < 0: below
                return CrossHadamardFunction.apply(x, idx, weight, scale, shift, alpha, p)
    if is_traced():
        with quiet_tracer():                         # Cs is static (top-k's k)
            cs = int(idx.shape[1])
            p = num_pairs_of(cs) if num_pairs is None else int(num_pairs)
        if idx.dtype != torch.int64:                 # no Cast node for top-k's indices
            idx = idx.long()
        if weight is None and in_onnx_symbolic_export(MIN_OPSET):
            return forward_onnx(x, idx, scale, shift, alpha, cs, p)
        return forward_traceable(x, idx, weight, scale, shift, alpha, p)
    cs, p = check_arguments(x, idx, weight, scale, shift, alpha, num_pairs)
    idx = idx.long()
    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, weight, scale, shift, alpha))
    if not needs_grad:
        return dispatch.forward(x.contiguous(), idx.contiguous(), weight, scale, shift, alpha,
                                p)
    return CrossHadamardFunction.apply(x.contiguous(), idx.contiguous(), weight, scale,
                                       shift, alpha, p)
