"""EfficientMod building blocks (Ma et al., "Efficient Modulation for Vision Networks",
ICLR 2024).

All blocks work on channels-last tensors ``(B, H, W, C)``: the point-wise projections are
``nn.Linear`` layers and the norms ``nn.LayerNorm`` over the last dimension, as in the
paper's implementation, so its checkpoints map onto these modules without reshaping.
The attention of the hybrid stages is plain ViT multi-head self-attention
(:class:`MultiheadSelfAttention`).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from torch import Tensor, nn

from .linear_gelu import LinearGELU


def may_overwrite(module: nn.Module) -> bool:
    """Whether ``module`` may overwrite its own fresh intermediates in place (``mul_`` /
    ``add_``): the same values with one allocation and one pass over memory fewer (the
    modulation product and the residual sums of EfficientMod-xs: ~5% of the forward at
    224, batch 8, 2 threads). Only in the deploy form (``module.in_place``, set by
    ``switch_to_deploy()``, whose inner modules are no contract for forward hooks) and
    only while autograd records nothing; the training form never does, so a hook on an
    inner module keeps the tensor it saw."""
    return module.in_place and not torch.is_grad_enabled()


def build_channels_last_norm(norm_cfg: dict, num_features: int) -> nn.Module:
    """``build_norm_layer`` restricted to norms over the last dimension (``'LN'``)."""
    if norm_cfg.get('type') != 'LN':
        raise ValueError(f"EfficientMod works on channels-last tensors and needs "
                         f"norm_cfg=dict(type='LN', ...), got {norm_cfg!r}.")
    return build_norm_layer(norm_cfg, num_features)[1]


class MultiheadSelfAttention(BaseModule):
    """Global multi-head self-attention over a token sequence ``(B, N, C)``.

    The plain ViT attention (Dosovitskiy et al., 2021) used by EfficientMod's hybrid
    stages, computed with ``F.scaled_dot_product_attention`` (scale ``head_dims**-0.5``).

    Args:
        embed_dims (int): Token channels ``C`` (input and output).
        num_heads (int): Number of heads. Default: 8.
        head_dims (int, optional): Channels per head. ``None``: ``embed_dims //
            num_heads``. The inner width ``num_heads * head_dims`` may differ from
            ``embed_dims`` (EfficientMod uses ``max(C // 8, 32)`` per head).
        qkv_bias (bool): Bias in the fused q/k/v projection. Default: False.
        proj_bias (bool): Bias in the output projection. Default: True.
        attn_drop (float): Dropout on the attention weights (training only).
        proj_drop (float): Dropout after the output projection.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int = 8,
                 head_dims: Optional[int] = None,
                 qkv_bias: bool = False,
                 proj_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.):
        super().__init__()
        if head_dims is None:
            if embed_dims % num_heads:
                raise ValueError(f'MultiheadSelfAttention: embed_dims={embed_dims} is not '
                                 f'divisible by num_heads={num_heads}; pass head_dims.')
            head_dims = embed_dims // num_heads
        self.num_heads = num_heads
        self.head_dims = head_dims
        inner_dims = num_heads * head_dims
        self.qkv = nn.Linear(embed_dims, 3 * inner_dims, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(inner_dims, embed_dims, bias=proj_bias)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: Tensor) -> Tensor:
        B, N, _ = x.shape
        # (B, N, 3 * heads * d) -> 3 x (B, heads, N, d)
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads,
                                      self.head_dims).permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.)
        x = x.transpose(1, 2).reshape(B, N, self.num_heads * self.head_dims)
        return self.proj_drop(self.proj(x))


class ConvPatchEmbed(BaseModule):
    """Overlapping patch embedding: ``Conv2d`` then a norm (Sec. 3.3, Table 8).

    The stem is ``kernel=7, stride=4`` and each down-sampling ``kernel=3, stride=2``
    (padding ``kernel // 2``), so any input size ``H`` gives ``ceil(H / stride)``.
    Input and output are channels-last.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int, norm_cfg: dict = dict(type='LN')):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                              padding=kernel_size // 2)
        self.norm = build_channels_last_norm(norm_cfg, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.norm(x)


class ContextBranch(BaseModule):
    """Context modelling of Eq. 5: ``ctx(x) = g(GELU(DWConv_{7,1}(f(x))))``.

    ``f`` and ``g`` are linear projections that keep the channel number.
    """

    def __init__(self, dims: int, kernel_size: int = 7,
                 act_cfg: dict = dict(type='GELU')):
        super().__init__()
        self.f = nn.Linear(dims, dims)
        self.dwconv = nn.Conv2d(dims, dims, kernel_size, padding=kernel_size // 2,
                                groups=dims)
        self.act = build_activation_layer(act_cfg)
        self.g = nn.Linear(dims, dims)

    def forward(self, x: Tensor) -> Tensor:
        # The NCHW view of the channels-last tensor makes the depth-wise conv run (and
        # return) channels-last; the activation runs after permuting back, on a
        # contiguous NHWC tensor: elementwise kernels take ~2x longer on a channels-last
        # NCHW view (GELU on 8x32x56x56: 0.33 vs 0.17 ms, 2 threads) for the same values.
        x = self.dwconv(self.f(x).permute(0, 3, 1, 2))
        return self.g(self.act(x.permute(0, 2, 3, 1)))


class EfficientModulation(BaseModule):
    """Efficient modulation, Eq. 4 with the MLP fused in (Sec. 3.2):
    ``p(ctx(x) ⊙ v(x))``.

    ``v`` expands the channels by ``expand_ratio`` (``r``), followed by GELU when ``r > 1``;
    the ``C``-channel context is broadcast over the ``r`` groups of ``v(x)`` (i.e.
    ``ctx`` tiled ``r`` times along the channels) and ``p`` (``proj``) squeezes back to
    ``C``.
    """

    def __init__(self, dims: int, expand_ratio: int, kernel_size: int = 7,
                 act_cfg: dict = dict(type='GELU')):
        super().__init__()
        if not isinstance(expand_ratio, int) or expand_ratio < 1:
            raise ValueError(f'EfficientModulation: expand_ratio must be a positive int, '
                             f'got {expand_ratio!r}.')
        self.expand_ratio = expand_ratio
        hidden = dims * expand_ratio
        self.v = nn.Linear(dims, hidden)
        self.v_act = build_activation_layer(act_cfg) if expand_ratio > 1 else nn.Identity()
        self.ctx = ContextBranch(dims, kernel_size, act_cfg)
        self.proj = nn.Linear(hidden, dims)
        self.in_place = False  # may_overwrite(): set by switch_to_deploy()

    def forward(self, x: Tensor) -> Tensor:
        ctx = self.ctx(x)
        v = self.v_act(self.v(x))
        if self.expand_ratio > 1:  # ctx broadcast over the r groups of v's channels
            ctx = ctx.unsqueeze(-2)
            v = v.unflatten(-1, (self.expand_ratio, -1))
        v = v.mul_(ctx) if may_overwrite(self) else v * ctx  # v: this call's own tensor
        return self.proj(v.flatten(-2) if self.expand_ratio > 1 else v)

    def switch_to_deploy(self) -> None:
        """The expansion ``GELU(v(x))`` as one fused kernel (:class:`LinearGELU`); the
        product computed in place (:func:`may_overwrite`)."""
        self.v, self.v_act = LinearGELU.fuse(self.v, self.v_act)
        self.in_place = True


class EfficientModBlock(BaseModule):
    """Residual EfficientMod block (Fig. 1c, Sec. 3.3):
    ``x + DropPath(gamma * EfficientModulation(LN(x)))``.

    Args:
        dims (int): Channels.
        expand_ratio (int): Expansion ``r`` of ``v`` (the paper alternates 1 and 6).
        kernel_size (int): Depth-wise kernel of the context branch. Default: 7.
        layer_scale_init_value (float): Initial layer scale; ``0`` disables it.
        drop_path_rate (float): Stochastic depth rate.
        norm_cfg (dict): Channels-last norm. Default: ``dict(type='LN')``.
        act_cfg (dict): Activation. Default: ``dict(type='GELU')``.
    """

    def __init__(self, dims: int, expand_ratio: int, kernel_size: int = 7,
                 layer_scale_init_value: float = 1e-4, drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='LN'), act_cfg: dict = dict(type='GELU')):
        super().__init__()
        self.norm = build_channels_last_norm(norm_cfg, dims)
        self.mod = EfficientModulation(dims, expand_ratio, kernel_size, act_cfg)
        if layer_scale_init_value > 0:
            self.gamma = nn.Parameter(layer_scale_init_value * torch.ones(dims))
        else:
            self.gamma = None
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.in_place = False  # may_overwrite(): set by switch_to_deploy()

    def forward(self, x: Tensor) -> Tensor:
        y = self.mod(self.norm(x))
        if self.gamma is not None:
            y = self.gamma * y
        y = self.drop_path(y)
        return y.add_(x) if may_overwrite(self) else x + y  # y: this call's own tensor

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Fold the layer scale into the projection: ``gamma * (W v + b)`` is
        ``(gamma W) v + gamma b``; the residual sum computed in place
        (:func:`may_overwrite`)."""
        self.in_place = True
        if self.gamma is None:
            return
        proj = self.mod.proj
        proj.weight.mul_(self.gamma[:, None])
        proj.bias.mul_(self.gamma)
        del self.gamma
        self.gamma = None


class TokenMlp(BaseModule):
    """Two-layer MLP ``fc2(act(fc1(x)))`` over the last dimension."""

    def __init__(self, dims: int, hidden_dims: int, act_cfg: dict = dict(type='GELU'),
                 drop: float = 0.):
        super().__init__()
        self.fc1 = nn.Linear(dims, hidden_dims)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Linear(hidden_dims, dims)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))

    def switch_to_deploy(self) -> None:
        """``GELU(fc1(x))`` as one fused kernel (:class:`LinearGELU`)."""
        self.fc1, self.act = LinearGELU.fuse(self.fc1, self.act)


class EfficientModAttentionBlock(BaseModule):
    """The vanilla ViT block that EfficientMod appends to stages 3-4 (Sec. 3.3, Table 8).

    Pre-norm global self-attention and MLP with stochastic depth and no layer scale (as
    the official model). The ``H x W`` map is flattened to ``H * W`` tokens, so it runs on
    any input size. Heads have ``max(dims // num_heads, min_head_dims)`` channels.

    Args:
        dims (int): Channels.
        mlp_ratio (float): MLP hidden ratio. Default: 4.
        num_heads (int): Attention heads. Default: 8.
        min_head_dims (int): Lower bound of the per-head width. Default: 32.
        qkv_bias (bool): Bias of the q/k/v projection. Default: False.
        drop_path_rate (float): Stochastic depth rate.
        norm_cfg, act_cfg (dict): Channels-last norm and activation.
    """

    def __init__(self, dims: int, mlp_ratio: float = 4., num_heads: int = 8,
                 min_head_dims: int = 32, qkv_bias: bool = False,
                 drop_path_rate: float = 0., norm_cfg: dict = dict(type='LN'),
                 act_cfg: dict = dict(type='GELU')):
        super().__init__()
        self.norm1 = build_channels_last_norm(norm_cfg, dims)
        self.attn = MultiheadSelfAttention(
            dims, num_heads=num_heads, head_dims=max(dims // num_heads, min_head_dims),
            qkv_bias=qkv_bias)
        self.norm2 = build_channels_last_norm(norm_cfg, dims)
        self.mlp = TokenMlp(dims, int(dims * mlp_ratio), act_cfg)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.in_place = False  # may_overwrite(): set by switch_to_deploy()

    def forward(self, x: Tensor) -> Tensor:
        B, H, W, C = x.shape
        x = x.reshape(B, H * W, C)
        for branch, norm in ((self.attn, self.norm1), (self.mlp, self.norm2)):
            y = self.drop_path(branch(norm(x)))
            x = y.add_(x) if may_overwrite(self) else x + y  # y: this call's own tensor
        return x.reshape(B, H, W, C)

    def switch_to_deploy(self) -> None:
        """The residual sums computed in place (:func:`may_overwrite`)."""
        self.in_place = True


class EfficientModStage(BaseModule):
    """One stage: optional down-sampling, then ``blocks`` (EfficientMod blocks followed
    by attention blocks). Iterating it yields the modules in the order they run, which is
    how the backbone runs (and checkpoints) a stage; the attribute names keep the official
    checkpoint keys (``downsample``, ``blocks.j``)."""

    def __init__(self, downsample: Optional[nn.Module], blocks: nn.ModuleList):
        super().__init__()
        self.downsample = downsample
        self.blocks = blocks

    def __iter__(self):
        if self.downsample is not None:
            yield self.downsample
        yield from self.blocks
