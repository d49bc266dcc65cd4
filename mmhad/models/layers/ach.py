"""Adaptive Cross-Hadamard (ACH) layer of Hadaptive-Net (Section 3, Eqs. 2-11).

``ACH(c1, cs, norm)`` follows the public implementation's ``AdaptiveCrossHadamard(c1,
cs, norm)`` (github.com/acelych/conductor, ``modules/block.py``): same argument names and
meaning, the same parameters and state-dict keys for the same arguments
(``fc``, ``norm_x``, ``eva_net``, ``tau``, ``tau_adj``, ``hadamard_i/j``, ``norm``), and
the attributes ``c1``, ``cs``, ``cs_expand`` and ``ce`` (output width). Everything else
is a keyword argument with a default.

Forward::

    X = BN(Conv1x1(x))                                          (X of Eq. 8)
    xi = scorer(X)                                               (Eq. 3, or ECA)
    training:  M = softmax((xi + Gumbel) / tau); S = topk(M, cs)  (Eqs. 4-7, STE)
    inference: S = topk(xi, cs)                                  (no noise)
    Y = concat(X, norm(Z_i * Z_j) for i < j),  Z = X[S]          (Eq. 2)

The selection and products run through :func:`mmhad.ops.cross_hadamard`, which never
builds the ``(B, Cs, C)`` one-hot matrix: gathering ``X`` and multiplying by the
straight-through weight ``M^H[S]`` (value 1) gives the values and gradients of ``M X``.
"""
import math
from typing import Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmhad.ops import cross_hadamard, num_pairs_of, pair_indices, straight_through_weight
from mmhad.ops.tracing import in_onnx_symbolic_export, quiet_tracer
from mmhad.registry import MODELS

__all__ = ['ACH', 'AdaptiveCrossHadamard', 'CrossHadaNorm', 'DySoft', 'ECAScorer']


# --------------------------------------------------------------------------- scorers
class ECAScorer(BaseModule):
    """ECA-style channel scorer: global average pool -> 1-D conv across channels.

    Returns raw scores ``(B, C, 1, 1)`` (no sigmoid), as the public code's
    ``ECA(5, weights_only=True)``; one ``conv.weight`` of ``k_size`` values.
    """

    def __init__(self, k_size: int = 5):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(1, 1, kernel_size=k_size, padding=(k_size - 1) // 2,
                              bias=False)

    def channel_matrix(self, channels: int) -> Tensor:
        """The 1-D conv across channels as a banded ``(C, C)`` matrix ``K`` with
        ``conv1d(y) = K y``: ``K[c, c'] = w[c' - c + pad]`` inside the band, 0 outside."""
        w = self.conv.weight.reshape(-1)
        k, pad = w.numel(), self.conv.padding[0]
        tap = (torch.arange(channels, device=w.device)[None, :]
               - torch.arange(channels, device=w.device)[:, None] + pad)
        inside = (tap >= 0) & (tap < k)
        return torch.where(inside, w[tap.clamp(0, k - 1)], w.new_zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.avg_pool(x)                               # (B, C, 1, 1)
        if in_onnx_symbolic_export():
            # one 1x1 Conv instead of six Flatten / Unsqueeze / Conv / Transpose nodes;
            # its weight is built from the current one as a constant of the graph
            with quiet_tracer():     # C is static
                weight = self.channel_matrix(int(pooled.shape[1]))
                weight = torch.tensor(weight.tolist(), dtype=pooled.dtype,
                                      device=pooled.device)
            return F.conv2d(pooled, weight[:, :, None, None])
        y = pooled.flatten(1).unsqueeze(1)                      # (B, 1, C)
        return self.conv(y).transpose(1, 2).unsqueeze(-1)       # (B, C, 1, 1)


def _fc_scorer(c1: int, reduction: int) -> nn.Sequential:
    """Eq. 3: ``W2 relu(W1 P(X) + b1) + b2`` (keys ``eva_net.1``, ``eva_net.3``)."""
    mid = max(1, c1 // reduction)
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c1, mid, 1),
                         nn.ReLU(inplace=True), nn.Conv2d(mid, c1, 1))


# --------------------------------------------------------------------------- norms
class CrossHadaNorm(BaseModule):
    """Cross-Hadamard normalisation (Section 3.3, Eqs. 9-11).

    Normalises ``p = A * B`` with moments predicted from the per-channel statistics of
    the preceding BatchNorm and a learnable covariance ``zeta`` per product channel::

        mu  = zeta + mu_A mu_B                                               (Eq. 9)
        var = s2_A s2_B + s2_A mu_B^2 + s2_B mu_A^2 - 2 mu_A mu_B zeta + zeta^2  (Eq. 11)
        y   = (p - mu) / sqrt(var + eps)

    Args:
        num_features: number of product channels ``P``.
        stats: ``'running'`` uses the preceding BN's running mean / variance (the
            statistics of its input, as the paper and the public code); ``'affine'`` uses
            the preceding BN's bias / weight^2 (the statistics of its output).
        eps: added to the variance.
    """

    def __init__(self, num_features: int, stats: str = 'running', eps: float = 1e-5):
        super().__init__()
        if stats not in ('running', 'affine'):
            raise ValueError(f"CrossHadaNorm stats must be 'running' or 'affine', got {stats!r}")
        self.num_features = num_features
        self.stats = stats
        self.eps = eps
        self.zeta = nn.Parameter(torch.zeros(num_features))

    def freeze_stats(self, bn: nn.BatchNorm2d) -> None:
        """Keep the preceding BN's statistics (``stats``) as constants, so the BN itself
        can be fused into its conv (the deploy form)."""
        mean, var = self._stats(bn)
        self.register_buffer('frozen_mean', mean.detach().clone())
        self.register_buffer('frozen_var', var.detach().clone())

    def _stats(self, bn):
        if getattr(self, 'frozen_mean', None) is not None:
            return self.frozen_mean, self.frozen_var
        if self.stats == 'running':
            if bn.running_mean is None:
                raise RuntimeError("CrossHadaNorm(stats='running') needs the preceding "
                                   'BatchNorm to track running statistics')
            return bn.running_mean, bn.running_var
        return bn.bias, bn.weight * bn.weight

    def affine(self, bn: nn.BatchNorm2d, idx: Tensor, ii: Tensor, jj: Tensor):
        """Per-sample ``(scale, shift)`` of shape ``(B, P)`` for selected ``idx``."""
        mean, var = self._stats(bn)
        m, v = mean[idx], var[idx]                              # (B, Cs)
        ma, mb, va, vb = m[:, ii], m[:, jj], v[:, ii], v[:, jj]
        zeta = self.zeta
        mu = zeta + ma * mb
        var_p = va * vb + va * mb * mb + vb * ma * ma - 2 * ma * mb * zeta + zeta * zeta
        scale = torch.rsqrt(var_p.clamp_min(0) + self.eps)
        return scale, -mu * scale

    def forward(self, p: Tensor, bn: nn.BatchNorm2d, idx: Tensor) -> Tensor:
        ii, jj = pair_indices(idx.shape[1], p.shape[1], p.device)
        scale, shift = self.affine(bn, idx, ii, jj)
        return p * scale[:, :, None, None] + shift[:, :, None, None]

    def extra_repr(self) -> str:
        return f'{self.num_features}, stats={self.stats!r}, eps={self.eps}'


class DySoft(BaseModule):
    """``weight * softsign(alpha * x) + bias`` (same parameters as the public DySoft)."""

    def __init__(self, dim: int, alpha_init_value: float = 0.5):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1) * alpha_init_value)
        self.weight = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, dim, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        x = self.alpha * x
        return x / (1 + x.abs()) * self.weight + self.bias


class _DyElementwise(BaseModule):
    """Shared parameters of the public DyAlge / DyT (``alpha, weight, bias``)."""

    def __init__(self, dim: int, alpha_init_value: float = 0.5):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1) * alpha_init_value)
        self.weight = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, dim, 1, 1))


class DySig(BaseModule):
    """``weight * (sigmoid(alpha x) - 0.5) + beta`` (public DySig's parameter names)."""

    def __init__(self, dim: int, alpha_init_value: float = 0.35):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1) * alpha_init_value)
        self.weight = nn.Parameter(torch.ones(1, dim, 1, 1) * 2)
        self.beta = nn.Parameter(torch.zeros(1, dim, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return (torch.sigmoid(self.alpha * x) - 0.5) * self.weight + self.beta


class DyAlge(_DyElementwise):
    """``weight * alpha x / sqrt(1 + (alpha x)^2) + bias``."""

    def forward(self, x: Tensor) -> Tensor:
        x = self.alpha * x
        return x * torch.rsqrt(1 + x * x) * self.weight + self.bias


class DyT(_DyElementwise):
    """Dynamic Tanh: ``weight * tanh(alpha x) + bias``."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(self.alpha * x) * self.weight + self.bias


_NORMS = {
    'bn': nn.BatchNorm2d, 'batchnorm': nn.BatchNorm2d, 'batchnorm2d': nn.BatchNorm2d,
    'crosshadanorm': CrossHadaNorm, 'chn': CrossHadaNorm,
    'dysoft': DySoft, 'dysig': DySig, 'dyalge': DyAlge, 'dyt': DyT,
    'none': nn.Identity, 'identity': nn.Identity,
}


def _build_norm(norm, num_features: int, chn_stats: str, eps: float) -> nn.Module:
    if norm is None:
        return nn.Identity()
    if isinstance(norm, str):
        key = norm.lower().replace('_', '').replace('-', '')
        if key not in _NORMS:
            raise ValueError(f'ACH: unknown norm {norm!r}; choose from BN, CrossHadaNorm, '
                             'DySoft, DySig, DyAlge, DyT, none, a class called as '
                             'cls(num_features), or a config dict')
        cls = _NORMS[key]
        if cls is CrossHadaNorm:
            return CrossHadaNorm(num_features, stats=chn_stats, eps=eps)
        return nn.Identity() if cls is nn.Identity else cls(num_features)
    if isinstance(norm, dict):
        cfg = dict(norm)
        typ = cfg.get('type')
        if isinstance(typ, str) and typ.lower().replace('_', '') in _NORMS:
            cfg.pop('type')
            cls = _NORMS[typ.lower().replace('_', '')]
            if cls is nn.Identity:
                return nn.Identity()
            if cls is CrossHadaNorm:
                cfg.setdefault('stats', chn_stats)
                cfg.setdefault('eps', eps)
            return cls(num_features, **cfg)
        cfg.setdefault('num_features', num_features)
        return MODELS.build(cfg)
    if callable(norm):                      # the public code passes a class: norm(P)
        return norm(num_features)
    raise TypeError(f'ACH: norm must be a str, dict, class or None, got {type(norm)}')


# --------------------------------------------------------------------------- layer
@MODELS.register_module('ACH')
class AdaptiveCrossHadamard(BaseModule):
    """Adaptive Cross-Hadamard channel expansion (Hadaptive-Net, Section 3).

    Args:
        c1 (int): input channels ``C``.
        cs (int | None): channels selected per sample; ``cs(cs-1)/2`` products are
            appended. ``None`` derives the smallest ``cs`` that reaches
            ``out_channels``.
        norm: normalisation of the products: ``'BN'`` (default, like the public
            ``AdaptiveBottleneck``), ``'CrossHadaNorm'`` (Section 3.3), ``'DySoft'``,
            ``'DySig'``, ``'DyAlge'``, ``'DyT'``, ``'none'``/``None``; or a class called as
            ``norm(P)`` (the public code's convention) or a config dict.
        out_channels (int, optional): exact output width; keeps the first
            ``out_channels - c1`` products (row-major pair order). Default
            ``c1 + cs(cs-1)/2``.
        scorer (str): evaluation network: ``'eca'`` (public code's default, ECA with
            ``eca_kernel``) or ``'fc'`` (Eq. 3: pool -> 1x1 conv ``c1 -> c1/reduction``
            -> ReLU -> 1x1 conv).
        eca_kernel (int): ECA kernel size. Default 5.
        reduction (int): hidden reduction of the ``'fc'`` scorer. Default 4.
        tau (float): initial Gumbel-softmax temperature. Default 4.0.
        tau_min, tau_max (float): clamp of the temperature. Defaults 0.01, 4.0.
        tau_alpha (float): relative step of the temperature adaptation. Default 0.005.
        adapt_tau (bool): adapt ``tau`` during training (Section 3.2): after each
            backward the gradient of the scorer's last weight is recorded; in the next
            training forward, after the Gumbel sample (the public code's order),
            ``tau`` is scaled by ``1 + tau_alpha`` if the gradient's norm grew (or
            stayed) since the previous record, by ``1 - tau_alpha`` if it shrank, then
            clamped. Under ``torch.distributed`` the recorded gradient is averaged over
            the processes first, so every process reads the synchronised gradient, as
            the public code reads ``.grad`` after DDP's all-reduce, and all processes
            keep one temperature. Default True.
        chn_stats (str): statistics CrossHadaNorm reads from ``norm_x``: ``'running'``
            (default) or ``'affine'``.
        eps (float): CrossHadaNorm variance epsilon.
        ste (str): straight-through estimator of Eq. 5: ``'paper'`` (default,
            ``M^H = hard + M - sg(M)``, gradient ``+dM``) or ``'public'`` (the public
            code's ``hard + sg(M) - M``, which sends the negated gradient to the scorer).
        init_cfg (dict, optional): MMEngine initialisation config.

    Shapes: ``(B, c1, H, W) -> (B, ce, H, W)`` with ``ce = c1 + cs_expand``.
    """

    def __init__(self,
                 c1: int,
                 cs: Optional[int],
                 norm: Union[str, dict, type, None] = 'BN',
                 *,
                 out_channels: Optional[int] = None,
                 scorer: str = 'eca',
                 eca_kernel: int = 5,
                 reduction: int = 4,
                 tau: float = 4.0,
                 tau_min: float = 0.01,
                 tau_max: float = 4.0,
                 tau_alpha: float = 0.005,
                 adapt_tau: bool = True,
                 chn_stats: str = 'running',
                 eps: float = 1e-5,
                 ste: str = 'paper',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if cs is None:
            if out_channels is None:
                raise ValueError('ACH: give cs or out_channels')
            need = out_channels - c1
            cs = math.ceil((1 + math.sqrt(1 + 8 * max(need, 0))) / 2) if need > 0 else 0
            while num_pairs_of(cs) < need:
                cs += 1
        if not 0 <= cs <= c1:
            raise ValueError(f'ACH: cs={cs} must lie in [0, c1={c1}]')
        full = num_pairs_of(cs)
        if out_channels is None:
            out_channels = c1 + full
        if not c1 <= out_channels <= c1 + full:
            raise ValueError(f'ACH: out_channels={out_channels} must lie in '
                             f'[c1, c1 + cs(cs-1)/2] = [{c1}, {c1 + full}]')
        self.c1 = c1
        self.cs = cs
        self.cs_expand = out_channels - c1
        self.ce = out_channels
        self.out_channels = out_channels

        # X of Eq. 8: pointwise conv + BN
        self.fc = nn.Conv2d(c1, c1, 1)
        self.norm_x = nn.BatchNorm2d(c1)

        # evaluation network
        self.scorer = scorer
        if scorer == 'eca':
            self.eva_net = ECAScorer(eca_kernel)
        elif scorer == 'fc':
            self.eva_net = _fc_scorer(c1, reduction)
        else:
            raise ValueError(f"ACH: scorer must be 'eca' or 'fc', got {scorer!r}")

        # Gumbel-softmax temperature; Parameters without grad like the public code so
        # state dicts and parameter counts match.
        self.tau = nn.Parameter(torch.tensor(float(tau)), requires_grad=False)
        self.tau_adj = nn.Parameter(torch.tensor(0.0), requires_grad=False)
        self.tau_min, self.tau_max, self.tau_alpha = tau_min, tau_max, tau_alpha
        self.adapt_tau = adapt_tau
        if ste not in ('paper', 'public'):
            raise ValueError(f"ACH: ste must be 'paper' or 'public', got {ste!r}")
        self.ste = ste
        self._scorer_grad: Optional[Tensor] = None  # the last recorded scorer gradient
        self._hooked_param_id: Optional[int] = None

        ii, jj = pair_indices(cs, self.cs_expand)
        self.register_buffer('hadamard_i', ii.clone())
        self.register_buffer('hadamard_j', jj.clone())

        self.norm = _build_norm(norm, self.cs_expand, chn_stats, eps)
        # the deploy form's product norm as constants (switch_to_deploy), applied by the
        # kernel as scale * act(p) + shift, act = DySoft's softsign(alpha p) or identity;
        # fold_product_scale() may hand the scale on to the op that reads the products
        self.register_buffer('deploy_scale', None)
        self.register_buffer('deploy_shift', None)
        self.register_buffer('deploy_alpha', None)

    # ------------------------------------------------------------------ temperature
    def _scorer_weight(self) -> Tensor:
        return self.eva_net.conv.weight if self.scorer == 'eca' else self.eva_net[-1].weight

    def _ensure_grad_hook(self) -> None:
        """Record the scorer's gradient norm on every backward (survives zero_grad)."""
        w = self._scorer_weight()
        if self._hooked_param_id == id(w) or not w.requires_grad:
            return
        import weakref
        ref = weakref.ref(self)

        def _record(grad: Tensor) -> None:
            mod = ref()
            if mod is not None:  # the gradient itself: it is averaged across processes
                mod._scorer_grad = grad.detach().float().clone()

        w.register_hook(_record)
        self._hooked_param_id = id(w)

    @torch.no_grad()
    def _update_tau(self) -> None:
        g, self._scorer_grad = self._scorer_grad, None
        if g is None:
            return
        g = g.to(self.tau.device)
        if torch.distributed.is_available() and torch.distributed.is_initialized() \
                and torch.distributed.get_world_size() > 1:
            # DDP averages gradients after backward; the hook saw this process's own
            torch.distributed.all_reduce(g)
            g /= torch.distributed.get_world_size()
        g = g.norm()
        prev = self.tau_adj
        step = torch.where(prev <= g, 1.0 + self.tau_alpha, 1.0 - self.tau_alpha)
        step = torch.where(prev != 0, step, torch.ones_like(step))
        self.tau.copy_((self.tau * step).clamp(self.tau_min, self.tau_max))
        self.tau_adj.copy_(g)

    # ------------------------------------------------------------------ forward
    def select(self, x: Tensor):
        """Scores -> (idx ``(B, cs)``, straight-through weight or None)."""
        logits = self.eva_net(x).flatten(1)
        if self.training:
            soft = F.gumbel_softmax(logits, tau=self.tau.detach().clone())
            idx = torch.topk(soft, self.cs, dim=1).indices
            return idx, straight_through_weight(soft, idx, 1.0 if self.ste == 'paper' else -1.0)
        return torch.topk(logits, self.cs, dim=1).indices, None

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm_x(self.fc(x))
        if self.cs_expand == 0:
            return x
        idx, weight = self.select(x)
        if self.training and self.adapt_tau and torch.is_grad_enabled():
            self._ensure_grad_hook()
            self._update_tau()  # after the sample, as the public code

        norm = self.norm
        scale = shift = alpha = None
        post = None
        if self.deploy_shift is not None:  # the product norm as constants (deploy form)
            scale, shift, alpha = self.deploy_scale, self.deploy_shift, self.deploy_alpha
        elif isinstance(norm, CrossHadaNorm):
            scale, shift = norm.affine(self.norm_x, idx, self.hadamard_i, self.hadamard_j)
        elif isinstance(norm, DySoft):
            alpha, scale, shift = norm.alpha, norm.weight.view(-1), norm.bias.view(-1)
        elif isinstance(norm, nn.modules.batchnorm._BatchNorm) and not norm.training \
                and norm.running_var is not None:
            scale = norm.running_var.add(norm.eps).rsqrt()
            if norm.weight is not None:
                scale = scale * norm.weight
            shift = -norm.running_mean * scale
            if norm.bias is not None:
                shift = shift + norm.bias
        elif not isinstance(norm, nn.Identity):
            post = norm
        out = cross_hadamard(x, idx, weight, scale, shift, alpha, self.cs_expand)
        if post is not None:
            out = torch.cat([out[:, :self.c1], post(out[:, self.c1:])], dim=1)
        return out

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Inference form: an eval-mode product BatchNorm or a DySoft becomes the constant
        ``(scale, shift[, alpha])`` the kernel applies (no per-call arithmetic on the BN
        statistics), and ``norm_x`` is fused into ``fc`` (a CrossHadaNorm keeps its
        statistics as constants first). Selection and products stay one kernel call."""
        if self.deploy_shift is not None or isinstance(self.norm_x, nn.Identity):
            return
        norm = self.norm
        if isinstance(norm, nn.modules.batchnorm._BatchNorm) and norm.running_var is not None:
            scale = norm.running_var.add(norm.eps).rsqrt()
            shift = -norm.running_mean * scale
            if norm.affine:
                scale, shift = scale * norm.weight, shift * norm.weight + norm.bias
            self.deploy_scale, self.deploy_shift = scale.clone(), shift.clone()
            self.norm = nn.Identity()
        elif isinstance(norm, DySoft):
            self.deploy_scale = norm.weight.reshape(-1).clone()
            self.deploy_shift = norm.bias.reshape(-1).clone()
            self.deploy_alpha = norm.alpha.clone()
            self.norm = nn.Identity()
        elif isinstance(norm, CrossHadaNorm):
            norm.freeze_stats(self.norm_x)
        from mmcv.cnn.utils.fuse_conv_bn import _fuse_conv_bn
        self.fc = _fuse_conv_bn(self.fc, self.norm_x)
        self.norm_x = nn.Identity()

    @torch.no_grad()
    def fold_product_scale(self) -> Optional[Tensor]:
        """Hand the deploy form's constant per-channel product scale ``s`` over to the
        linear per-channel op that reads the products next (a depth-wise conv: its weight
        of channel ``c1 + k`` times ``s[k]``).

        The products then come out as ``act(p) + t / s`` instead of ``s * act(p) + t``;
        ``s`` times that is the same and the conv's padding commutes with ``s``, so the
        pair is exact for any input size and saves one pass over the products (one Mul
        node per layer in ONNX Runtime). Returns ``s`` (``(cs_expand,)``), or None with nothing changed
        when there is none to hand over: not in deploy form, a CrossHadaNorm (its scale
        is per sample), a norm without a scale, a zero in ``s``, or folded already."""
        scale = self.deploy_scale
        if self.deploy_shift is None or scale is None \
                or not bool(torch.isfinite(scale).all() and (scale != 0).all()):
            return None
        self.deploy_shift = self.deploy_shift / scale
        self.deploy_scale = None
        return scale

    def extra_repr(self) -> str:
        return (f'c1={self.c1}, cs={self.cs}, out_channels={self.ce}, '
                f'scorer={self.scorer!r}, adapt_tau={self.adapt_tau}')


ACH = AdaptiveCrossHadamard
