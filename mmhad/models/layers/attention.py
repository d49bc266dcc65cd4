"""Attention layers shared by the backbones.

Each family's attention is a separately named class or function here; nothing is shared
implicitly between families.
"""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn


class MultiheadSelfAttention(nn.Module):
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


# --- EMO (Zhang et al., ICCV 2023): expanded window MHSA on a strided window grid ---

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


def emo_grid_window_attention(q: Tensor, k: Tensor, v: Tensor, num_heads: int,
                              window: tuple, dropout_p: float = 0.,
                              scale: Optional[float] = None) -> Tensor:
    """Multi-head attention inside EMO's windows, on NCHW maps.

    ``q``, ``k``: ``(B, C, H, W)``; ``v``: ``(B, Cv, H, W)`` (``Cv`` may differ from ``C``,
    the "expanded" value of EW-MHSA, paper Eq. 4); ``H``, ``W`` must be multiples of
    ``window = (wh, ww)`` (see :func:`emo_pad_to_window`). Channels split into heads
    head-major, as the official ``(heads dim_head)`` layout.

    The map is cut into ``(H / wh) x (W / ww)`` windows of ``wh x ww`` tokens the way the
    official ``rearrange('b c (h1 n1) (w1 n2) -> (b n1 n2) c h1 w1')`` does: token ``(y, x)``
    goes to window ``(y mod n1, x mod n2)``, i.e. the tokens of a window lie ``n1`` rows and
    ``n2`` columns apart (a dilated grid spanning the map), not in one contiguous patch.
    Computed with ``F.scaled_dot_product_attention`` (default scale ``head_dim**-0.5``).
    Returns ``(B, Cv, H, W)``.
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

    out = F.scaled_dot_product_attention(
        split(q), split(k), split(v), dropout_p=dropout_p, scale=scale)
    # (B, n1, n2, heads, wh, ww, dv) -> (B, heads, dv, wh, n1, ww, n2)
    out = out.reshape(B, n1, n2, num_heads, wh, ww, Cv // num_heads)
    return out.permute(0, 3, 6, 4, 1, 5, 2).reshape(B, Cv, H, W)
