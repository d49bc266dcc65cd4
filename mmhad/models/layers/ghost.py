"""Ghost module (GhostNet, Han et al. 2020) as used by Hadaptive-Net's downsampling blocks.

A pointwise "primary" convolution produces ``ceil(out / ratio)`` intrinsic maps; a cheap
depthwise convolution derives the remaining "ghost" maps from them; both are
concatenated. In Hadaptive-Net only the primary branch has an activation (Hardswish)
and each convolution has a single norm (paper Section 3.4).
"""
import math

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

__all__ = ['GhostModule']


class GhostModule(BaseModule):
    """Channel expansion by primary pointwise conv + cheap depthwise "ghost" conv.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels. The two branches produce
            ``ratio * ceil(out_channels / ratio)`` maps; extra maps (only when
            ``out_channels`` is not a multiple of ``ratio``) are dropped.
        ratio (int): Total / intrinsic channel ratio. Defaults to 2.
        primary_kernel (int): Kernel of the primary conv. Defaults to 1.
        cheap_kernel (int): Kernel of the cheap depthwise conv. Defaults to 3.
        norm_cfg (dict): Norm of both convs. Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation of the primary conv only.
            Defaults to ``dict(type='HSwish')``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 ratio: int = 2,
                 primary_kernel: int = 1,
                 cheap_kernel: int = 3,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='HSwish')):
        super().__init__()
        if not isinstance(ratio, int) or ratio < 2:
            raise ValueError(f'GhostModule: ratio must be an int >= 2, got {ratio!r}.')
        if out_channels < ratio:
            raise ValueError(f'GhostModule: out_channels ({out_channels}) must be at '
                             f'least ratio ({ratio}).')
        self.out_channels = out_channels
        init_channels = math.ceil(out_channels / ratio)
        self.primary_conv = ConvModule(
            in_channels, init_channels, primary_kernel,
            padding=(primary_kernel - 1) // 2,
            norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.cheap_operation = ConvModule(
            init_channels, init_channels * (ratio - 1), cheap_kernel,
            padding=(cheap_kernel - 1) // 2, groups=init_channels,
            norm_cfg=norm_cfg, act_cfg=None)

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.primary_conv(x)
        out = torch.cat([x1, self.cheap_operation(x1)], dim=1)
        if out.shape[1] != self.out_channels:
            out = out[:, :self.out_channels]
        return out
