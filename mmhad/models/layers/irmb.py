"""Building blocks of EMO (Zhang et al., "Rethinking Mobile Block for Efficient
Attention-based Models", ICCV 2023).

* :class:`iRMB`: the Inverted Residual Mobile Block (paper Sec. 2.3, Fig. 4, Eq. 4):
  ``norm -> (EW-MHSA | 1x1 expansion) -> DW-conv (+ inner skip) [-> SE] -> 1x1 projection``
  with one outer residual. Attention and the inner skip are switches, so the same block is
  EMO's stem block, its stride-2 down-sampling blocks and its attention blocks.
* :class:`MSPatchEmb`: multi-scale (dilated) patch embedding; EMO's stem uses one branch.
* :class:`SqueezeExcite`: channel gate used by EMO's stem block.
* :func:`emo_grid_window_attention` (+ :func:`emo_window_shape`, :func:`emo_pad_to_window`):
  the multi-head attention of EW-MHSA on EMO's strided window grid.

Sub-module names follow the official ones (``norm``, ``qk``, ``v``, ``conv_local``, ``se``,
``proj``) so official checkpoints map key-for-key; see ``mmhad/utils/converters/emo.py``.
"""
import math
import warnings
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmhad.registry import MODELS

# The official EMO uses eps=1e-6 for every BN and LN.
EMO_BN = dict(type='BN', eps=1e-6)
EMO_LN = dict(type='LN2d', eps=1e-6)


def _same_padding(kernel_size: int, stride: int, dilation: int = 1) -> int:
    """Padding of the official convs: ``ceil(((k - 1) * d + 1 - s) / 2)``."""
    return math.ceil(((kernel_size - 1) * dilation + 1 - stride) / 2)


# --- expanded window MHSA (EW-MHSA) on a strided window grid ---

def emo_window_shape(window_size: Optional[int], height: int, width: int) -> tuple:
    """``(wh, ww)`` of an EMO window: ``window_size`` squared, or the whole map when
    ``window_size`` is ``None`` or ``<= 0`` (global attention, as the official code)."""
    if window_size is None or window_size <= 0:
        return height, width
    return window_size, window_size


def emo_pad_to_window(x: Tensor, window: tuple) -> Tensor:
    """Zero-pad an NCHW map on the right/bottom to multiples of ``window = (wh, ww)``."""
    height, width = x.shape[-2:]
    pad_b = (window[0] - height % window[0]) % window[0]
    pad_r = (window[1] - width % window[1]) % window[1]
    if pad_b or pad_r:
        x = F.pad(x, (0, pad_r, 0, pad_b))
    return x


# Windows of at most this many tokens are attended with plain matmuls in the deploy form
# on CPU (``explicit_max_tokens``): at EMO's 7x7 windows (and the 10x10 of its detection
# configs) SDPA's fused kernel has a fixed per-call cost that the three plain kernels do
# not (EMO-6m at 224x224, batch 1, 2 threads: its 10 attention calls 1.1 vs 1.9 ms; the
# whole backbone 0.93-1.00x, tools/analysis/README.md), and one window's N x N matrix
# is small. Larger windows (a global window over a big map) keep the fused kernel,
# linear in memory; at 16x16 windows it was the faster one again (1.04-1.28x).
EXPLICIT_ATTENTION_MAX_TOKENS = 100
PLAIN_ATTENTION_CHUNK_ELEMENTS = 2 ** 20  # 4 MiB of float32 scores per chunk


def emo_grid_window_attention(q: Tensor, k: Tensor, v: Tensor, num_heads: int,
                              window: tuple, dropout_p: float = 0.,
                              scale: Optional[float] = None,
                              explicit_max_tokens: int = 0) -> Tensor:
    """Multi-head attention inside EMO's windows, on NCHW maps.

    ``q``, ``k``: ``(B, C, H, W)``; ``v``: ``(B, Cv, H, W)`` (``Cv`` may differ from ``C``,
    the "expanded" value of EW-MHSA, paper Eq. 4); ``H``, ``W`` must be multiples of
    ``window = (wh, ww)`` (see :func:`emo_pad_to_window`). Channels split into heads
    head-major, as the official ``(heads dim_head)`` layout.

    The map is cut into ``(H / wh) x (W / ww)`` windows of ``wh x ww`` tokens the way the
    official ``rearrange('b c (h1 n1) (w1 n2) -> (b n1 n2) c h1 w1')`` does: token ``(y, x)``
    goes to window ``(y mod n1, x mod n2)``, i.e. the tokens of a window lie ``n1`` rows and
    ``n2`` columns apart (a dilated grid spanning the map), not in one contiguous patch.
    Computed with ``F.scaled_dot_product_attention`` (default scale ``head_dim**-0.5`` of
    the q/k heads); q/k or v are zero-padded to one head size so that its fused kernel,
    linear in memory, runs whatever the value width. Windows of at most
    ``explicit_max_tokens`` tokens (``0``: none) are computed on the CPU as
    ``softmax(s q k^T) v`` with plain matmuls instead, without dropout (the deploy form's
    choice, :data:`EXPLICIT_ATTENTION_MAX_TOKENS`; measured on CPUs only, so other devices
    keep the fused kernel, and so does a traced or exported graph). Returns
    ``(B, Cv, H, W)``.
    """
    B, C, H, W = q.shape
    Cv = v.shape[1]
    wh, ww = window
    if H % wh or W % ww:
        raise ValueError(f'emo_grid_window_attention: map {H}x{W} is not a multiple of the '
                         f'window {wh}x{ww}; pad it first (emo_pad_to_window).')
    if C % num_heads or Cv % num_heads:
        raise ValueError(f'emo_grid_window_attention: channels q/k={C}, v={Cv} are not '
                         f'divisible by num_heads={num_heads}.')
    n1, n2 = H // wh, W // ww

    def split(t: Tensor) -> Tensor:
        d = t.shape[1] // num_heads
        # (B, heads, d, wh, n1, ww, n2) -> (B, n1, n2, heads, wh, ww, d)
        t = t.reshape(B, num_heads, d, wh, n1, ww, n2).permute(0, 4, 6, 1, 3, 5, 2)
        return t.reshape(B * n1 * n2, num_heads, wh * ww, d)

    d, dv = C // num_heads, Cv // num_heads
    q, k, v = split(q), split(k), split(v)
    scale = d ** -0.5 if scale is None else scale
    if wh * ww <= explicit_max_tokens and dropout_p == 0 and q.device.type == 'cpu' and \
            not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
        # (a traced graph keeps the fused op: the chunking below is cut along batch x
        # windows, which tracing would freeze at the traced batch size)
        out = _plain_attention(q, k, v, scale)
        return _merge_windows(out, B, n1, n2, num_heads, wh, ww, dv)
    # PyTorch's fused (flash) kernels need one head size for q, k and v; an expanded
    # value (attn_pre=False) would fall back to the math kernel, which builds the N x N
    # matrix (quadratic memory with global windows). Zero channels appended to q and k
    # (or to v) add nothing to q.k (or to the output), so padding to the common size is
    # exact; the scale stays that of the true q/k head size.
    if dv > d:
        q, k = F.pad(q, (0, dv - d)), F.pad(k, (0, dv - d))
    elif dv < d:
        v = F.pad(v, (0, d - dv))
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, scale=scale)
    return _merge_windows(out[..., :dv], B, n1, n2, num_heads, wh, ww, dv)


def _plain_attention(q: Tensor, k: Tensor, v: Tensor, scale: float) -> Tensor:
    """``softmax(scale q k^T) v`` over ``(windows, heads, N, d)``, in chunks of windows
    whose ``N x N`` matrices hold at most :data:`PLAIN_ATTENTION_CHUNK_ELEMENTS` floats
    (so that one chunk's scores stay in cache; all at once they took 1.8x the fused
    kernel's time at 64 windows of 10x10)."""
    per_window = q.shape[1] * q.shape[2] * k.shape[2]
    step = max(1, PLAIN_ATTENTION_CHUNK_ELEMENTS // per_window)

    def attend(sl: slice) -> Tensor:
        scores = (q[sl] * scale) @ k[sl].transpose(-2, -1)
        return scores.softmax(dim=-1) @ v[sl]

    if step >= q.shape[0]:
        return attend(slice(None))
    return torch.cat([attend(slice(i, i + step)) for i in range(0, q.shape[0], step)])


def _merge_windows(out: Tensor, B: int, n1: int, n2: int, num_heads: int, wh: int,
                   ww: int, dv: int) -> Tensor:
    """``(B * n1 * n2, heads, wh * ww, dv)`` window outputs back to the NCHW map
    ``(B, heads * dv, wh * n1, ww * n2)``: the inverse of the split above."""
    # (B, n1, n2, heads, wh, ww, dv) -> (B, heads, dv, wh, n1, ww, n2)
    out = out.reshape(B, n1, n2, num_heads, wh, ww, dv)
    return out.permute(0, 3, 6, 4, 1, 5, 2).reshape(B, num_heads * dv, wh * n1, ww * n2)



class SqueezeExcite(BaseModule):
    """Squeeze-and-excitation gate: ``x * sigmoid(W2 act(W1 mean_hw(x)))``.

    Args:
        channels (int): Input/output channels.
        ratio (float): Hidden channels are ``round(channels * ratio)`` (EMO's stem: 1).
        act_cfg (dict): Activation after the reduction conv.
        gate_cfg (dict): Gate activation.
    """

    def __init__(self, channels: int, ratio: float = 0.25,
                 act_cfg: dict = dict(type='ReLU'), gate_cfg: dict = dict(type='Sigmoid'),
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        hidden = max(1, round(channels * ratio))
        self.conv_reduce = ConvModule(channels, hidden, 1, bias=True, act_cfg=act_cfg)
        self.conv_expand = ConvModule(hidden, channels, 1, bias=True, act_cfg=gate_cfg)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.conv_expand(self.conv_reduce(x.mean((2, 3), keepdim=True)))


@MODELS.register_module()
class MSPatchEmb(BaseModule):
    """Multi-scale patch embedding: parallel conv + norm (+ act) branches with different
    dilations, averaged. EMO's stem is the single-branch case (3x3, stride 2, conv bias,
    BN, no activation).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Kernel of every branch. Default: 3.
        stride (int): Stride of every branch. Default: 2.
        dilations (Sequence[int]): One branch per dilation. Default: ``(1,)``.
        groups (int): Conv groups. Default: 1.
        norm_cfg (dict): Norm of each branch. Default: BN (eps 1e-6).
        act_cfg (dict, optional): Activation of each branch. Default: None.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 2, dilations: Sequence[int] = (1,), groups: int = 1,
                 norm_cfg: Optional[dict] = EMO_BN, act_cfg: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.convs = nn.ModuleList()
        with warnings.catch_warnings():
            # the official stem keeps a conv bias before BN; its checkpoints carry it
            warnings.filterwarnings('ignore', message='Unnecessary conv bias')
            for dilation in dilations:
                self.convs.append(ConvModule(
                    in_channels, out_channels, kernel_size, stride=stride,
                    padding=_same_padding(kernel_size, stride, dilation),
                    dilation=dilation, groups=groups, bias=True,
                    norm_cfg=norm_cfg, act_cfg=act_cfg))

    def forward(self, x: Tensor) -> Tensor:
        if len(self.convs) == 1:
            return self.convs[0](x)
        return torch.stack([conv(x) for conv in self.convs]).mean(0)


@MODELS.register_module()
class iRMB(BaseModule):  # noqa: N801  (the paper's name)
    """Inverted Residual Mobile Block (EMO paper Sec. 2.3, Fig. 4, Eq. 4).

    ``x + proj(F(v(norm(x))))`` where ``F = (DW-Conv, Skip)`` and, with ``use_attn``, the
    expansion ``v`` is fused with window attention (EW-MHSA): ``Q = K`` come from a 1x1
    conv of the *unexpanded* input (``qk``) and the attention is applied to the input
    before the expanding ``v`` (``attn_pre=True``, the official default, paper "Efficient
    Equivalent Implementation") or to the expanded value after it (``attn_pre=False``).

    The inner skip around the DW-conv and the outer residual exist only when
    ``has_skip`` and the block keeps shape (``stride == 1`` and ``in == out``).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        expand_ratio (float): Hidden channels are ``int(in_channels * expand_ratio)``.
        stride (int): Stride of the DW-conv (2 for down-sampling blocks).
        kernel_size (int): DW-conv kernel.
        dilation (int): DW-conv dilation.
        norm_in (bool): Normalise the input (``norm_cfg``). EMO's stem block has none.
        has_skip (bool): Residuals (when the shape allows them).
        v_proj (bool): Without attention, whether to expand with a 1x1 conv (``False``
            requires ``expand_ratio == 1``).
        use_attn (bool): EW-MHSA before the DW-conv.
        head_dim (int): Channels per head; ``in_channels`` must be divisible by it.
        window_size (int, optional): Attention window (square); ``None``/``<= 0``: global.
            The map is zero-padded to a multiple of the window, so any size works.
        attn_pre (bool): Attention before (True) or after (False) the ``v`` expansion.
        qkv_bias (bool): Bias of the ``qk`` and ``v`` 1x1 convs.
        se_ratio (float): Squeeze-excitation after the DW-conv when > 0.
        norm_cfg (dict): Input norm. Default: BN (eps 1e-6).
        act_cfg (dict): Activation of ``v`` (and of the SE reduction).
        dw_norm_cfg (dict): DW-conv norm. Default: BN (eps 1e-6).
        dw_act_cfg (dict): DW-conv activation. Default: SiLU.
        attn_drop_rate (float): Dropout on attention weights (training only).
        drop_rate (float): Dropout before the projection.
        drop_path_rate (float): Stochastic depth on the residual branch.

    Gradient checkpointing is the backbone's (``with_cp``, one mechanism for every family).
    """

    def __init__(self, in_channels: int, out_channels: int, expand_ratio: float = 1.0,
                 stride: int = 1, kernel_size: int = 3, dilation: int = 1,
                 norm_in: bool = True, has_skip: bool = True, v_proj: bool = True,
                 use_attn: bool = False, head_dim: int = 64,
                 window_size: Optional[int] = 7, attn_pre: bool = False,
                 qkv_bias: bool = True, se_ratio: float = 0.,
                 norm_cfg: dict = EMO_BN, act_cfg: dict = dict(type='ReLU'),
                 dw_norm_cfg: dict = EMO_BN, dw_act_cfg: dict = dict(type='SiLU'),
                 attn_drop_rate: float = 0., drop_rate: float = 0.,
                 drop_path_rate: float = 0., init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        mid_channels = int(in_channels * expand_ratio)
        self.has_skip = has_skip and stride == 1 and in_channels == out_channels
        self.use_attn = use_attn
        self.norm = build_norm_layer(norm_cfg, in_channels)[1] if norm_in else nn.Identity()

        if use_attn:
            if head_dim <= 0 or in_channels % head_dim:
                raise ValueError(f'iRMB: in_channels={in_channels} is not divisible by '
                                 f'head_dim={head_dim}.')
            self.num_heads = in_channels // head_dim
            if not attn_pre and mid_channels % self.num_heads:
                raise ValueError(f'iRMB: attn_pre=False attends over the expanded value, '
                                 f'but its {mid_channels} channels are not divisible by '
                                 f'the {self.num_heads} heads.')
            self.head_dim = head_dim
            self.window_size = window_size
            self.attn_pre = attn_pre
            self.attn_drop_rate = attn_drop_rate
            self.explicit_attention_max_tokens = 0  # switch_to_deploy() sets it
            self.qk = ConvModule(in_channels, 2 * in_channels, 1, bias=qkv_bias,
                                 act_cfg=None)
        if use_attn or v_proj:
            self.v = ConvModule(in_channels, mid_channels, 1, bias=qkv_bias,
                                act_cfg=act_cfg)
        else:
            if mid_channels != in_channels:
                raise ValueError('iRMB: v_proj=False needs expand_ratio=1 (no expansion '
                                 f'conv), got {expand_ratio}.')
            self.v = nn.Identity()
        self.conv_local = ConvModule(
            mid_channels, mid_channels, kernel_size, stride=stride,
            padding=_same_padding(kernel_size, stride, dilation), dilation=dilation,
            groups=mid_channels, bias=False, norm_cfg=dw_norm_cfg, act_cfg=dw_act_cfg)
        self.se = SqueezeExcite(mid_channels, se_ratio, act_cfg=act_cfg) \
            if se_ratio > 0 else nn.Identity()
        self.proj_drop = nn.Dropout(drop_rate)
        self.proj = ConvModule(mid_channels, out_channels, 1, bias=False, act_cfg=None)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def attention(self, x: Tensor) -> Tensor:
        """EW-MHSA of the normalised input, including the ``v`` expansion."""
        H, W = x.shape[-2:]
        window = emo_window_shape(self.window_size, H, W)
        # zero padding of the normalised map, as the official code (padded tokens
        # take part in the attention with their q/k/v biases)
        x = emo_pad_to_window(x, window)
        q, k = self.qk(x).chunk(2, dim=1)
        value = x if self.attn_pre else self.v(x)
        x = emo_grid_window_attention(
            q, k, value, self.num_heads, window,
            dropout_p=self.attn_drop_rate if self.training else 0.,
            explicit_max_tokens=self.explicit_attention_max_tokens)
        x = x[:, :, :H, :W]
        # v is a 1x1 conv + activation: applying it per pixel after un-windowing equals
        # applying it per window
        return self.v(x) if self.attn_pre else x

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Fold a BatchNorm input norm into the 1x1 ``v`` conv it feeds (blocks without
        attention): ``W (s x + t) + b = (W s) x + (W t + b)``. The residual reads the
        un-normalised input, so nothing else sees the norm. Attention blocks attend
        over windows of up to :data:`EXPLICIT_ATTENTION_MAX_TOKENS` tokens with plain
        matmuls (see :func:`emo_grid_window_attention`)."""
        if self.use_attn:  # its input norm feeds qk and the attention too: no fold
            self.explicit_attention_max_tokens = EXPLICIT_ATTENTION_MAX_TOKENS
            return
        norm, conv = self.norm, getattr(self.v, 'conv', None)
        if not isinstance(norm, nn.modules.batchnorm._BatchNorm) \
                or conv is None or conv.kernel_size != (1, 1) or conv.groups != 1:
            return
        scale = (norm.running_var + norm.eps).rsqrt()
        shift = -norm.running_mean * scale
        if norm.affine:
            scale, shift = scale * norm.weight, shift * norm.weight + norm.bias
        bias = conv.bias if conv.bias is not None else torch.zeros_like(conv.weight[:, 0, 0, 0])
        new_bias = bias + (conv.weight[:, :, 0, 0] * shift).sum(1)
        conv.weight.mul_(scale[None, :, None, None])
        conv.bias = nn.Parameter(new_bias)
        self.norm = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        x = self.norm(x)
        x = self.attention(x) if self.use_attn else self.v(x)
        local = self.se(self.conv_local(x))
        x = x + local if self.has_skip else local
        x = self.proj(self.proj_drop(x))
        return shortcut + self.drop_path(x) if self.has_skip else x
