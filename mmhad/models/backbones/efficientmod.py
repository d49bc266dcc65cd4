"""EfficientMod backbone (Ma et al., "Efficient Modulation for Vision Networks", ICLR 2024).

Four stages at strides 4/8/16/32 (Sec. 3.3, Appendix B Table 8): a ``k7 s4`` conv stem,
``k3 s2`` conv down-sampling before stages 2-4, EfficientMod blocks whose expansion
alternates ``1, r`` and, in the hybrid models, vanilla attention blocks after them in
stages 3-4. Settings follow the official model factories, which differ from Table 8 in
one place: EfficientMod-s stage 4 is ``[4, 4]`` (4 EfficientMod + 4 attention blocks),
not ``[8, 4]``, and its last stage's attention MLP ratio is 5.
"""
from typing import Optional, Sequence, Union

import torch
from torch import Tensor, nn

from mmhad.registry import MODELS
from ..layers.efficient_modulation import (ConvPatchEmbed, EfficientModAttentionBlock,
                                           EfficientModBlock, EfficientModStage,
                                           build_channels_last_norm)
from .base import MMHadBackbone, check_per_stage

# embed_dims: channels per stage; depths: EfficientMod blocks per stage; attn_depths:
# attention blocks per stage (after the EfficientMod blocks); expand_ratios: expansion
# cycle restarted in every stage (block j uses expand_ratios[j % len]); attn_mlp_ratios:
# MLP ratio of the attention blocks per stage. Params of the 1000-class classifier:
# 4.736 / 6.628 / 12.897 / 12.872 M.
# drop_path_rate: hard-coded in every official factory (classification, detection and
# segmentation alike): 0 for xxs/xs, 0.02 for s/s_conv.
ARCH_SETTINGS = {
    'xxs': dict(embed_dims=[32, 64, 128, 256], depths=[2, 2, 6, 2],
                attn_depths=[0, 0, 1, 2], expand_ratios=[1, 6],
                attn_mlp_ratios=[4, 4, 4, 4], drop_path_rate=0.),
    'xs': dict(embed_dims=[32, 64, 144, 288], depths=[3, 3, 4, 2],
               attn_depths=[0, 0, 3, 3], expand_ratios=[1, 4],
               attn_mlp_ratios=[4, 4, 4, 4], drop_path_rate=0.),
    's': dict(embed_dims=[32, 64, 144, 312], depths=[4, 4, 8, 4],
              attn_depths=[0, 0, 4, 4], expand_ratios=[1, 6],
              attn_mlp_ratios=[4, 4, 4, 5], drop_path_rate=0.02),
    's_conv': dict(embed_dims=[40, 80, 160, 344], depths=[4, 4, 12, 8],
                   attn_depths=[0, 0, 0, 0], expand_ratios=[1, 6],
                   attn_mlp_ratios=[4, 4, 4, 4], drop_path_rate=0.02),
}
# Shared by all variants; an arch dict may override any of them.
ARCH_DEFAULTS = dict(attn_mlp_ratios=[4, 4, 4, 4], num_heads=8, kernel_size=7,
                     drop_path_rate=0.)
REQUIRED_KEYS = ('embed_dims', 'depths', 'attn_depths', 'expand_ratios')


@MODELS.register_module()
class EfficientMod(MMHadBackbone):
    """EfficientMod backbone with four NCHW outputs at strides 4, 8, 16, 32.

    The shared arguments (``arch``, ``out_indices``, ``frozen_stages``, ``norm_eval``,
    ``drop_path_rate``, ``with_cp``, ``init_cfg``) and the attributes ``out_channels`` /
    ``out_strides`` are those of :class:`~mmhad.models.backbones.base.MMHadBackbone`.

    Args:
        arch (str | dict): ``'xxs'``, ``'xs'``, ``'s'``, ``'s_conv'`` (``'s-conv'`` is
            accepted too) or a dict with keys ``embed_dims``, ``depths``,
            ``attn_depths``, ``expand_ratios`` and optionally ``attn_mlp_ratios``
            (default 4 per stage), ``num_heads`` (8), ``kernel_size`` (7).
        in_channels (int): Input channels. Default: 3.
        out_indices (int | Sequence[int]): Stages to output (0-3). Default: all.
        frozen_stages (int): ``-1`` none, ``0`` the stem, ``i`` stem + stages ``0..i-1``
            (``4`` also freezes ``norm`` when ``final_norm``). Default: -1.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training (a no-op
            here: EfficientMod's LayerNorms keep no running statistics). Default: False.
        drop_path_rate (float, optional): Stochastic depth rate, increased linearly
            over all blocks. ``None``: the arch's official value (``arch['drop_path_rate']``:
            0 for xxs/xs, 0.02 for s/s_conv, hard-coded in the official factories).
        layer_scale_init_value (float): Layer scale of EfficientMod blocks (attention
            blocks have none). Default: 1e-4.
        final_norm (bool): Add ``norm`` (LayerNorm) applied to the last stage's output,
            as the official classifier does before global pooling. Default: False.
        norm_cfg (dict): Channels-last norm config. Default: ``dict(type='LN')``
            (``eps=1e-5`` as ``nn.LayerNorm``).
        act_cfg (dict): Activation config. Default: ``dict(type='GELU')``.
        with_cp (bool): Gradient checkpointing per block in training (shared with every
            backbone, ``base.run_blocks``). Default: False.
        init_cfg (dict | list, optional): ``None``: truncated-normal (std 0.02) linear
            layers and unit LayerNorms as the official model; or e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
    """

    arch_settings = ARCH_SETTINGS
    arch_required_keys = REQUIRED_KEYS
    arch_defaults = ARCH_DEFAULTS
    # the blocks permute to NHWC themselves: an NHWC input layout gains nothing (measured)
    memory_format = torch.contiguous_format

    def __init__(self,
                 arch: Union[str, dict] = 'xxs',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 drop_path_rate: Optional[float] = None,
                 layer_scale_init_value: float = 1e-4,
                 final_norm: bool = False,
                 norm_cfg: dict = dict(type='LN'),
                 act_cfg: dict = dict(type='GELU'),
                 with_cp: bool = False,
                 init_cfg=None):
        if init_cfg is None:
            init_cfg = [
                dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                dict(type='Constant', layer='LayerNorm', val=1., bias=0.),
            ]
        super().__init__(arch, out_indices, frozen_stages, norm_eval, drop_path_rate,
                         with_cp, init_cfg=init_cfg)
        family = type(self).__name__
        arch = self.arch
        embed_dims = check_per_stage(arch['embed_dims'], 'embed_dims', family)
        depths = check_per_stage(arch['depths'], 'depths', family)
        attn_depths = check_per_stage(arch['attn_depths'], 'attn_depths', family)
        attn_mlp_ratios = check_per_stage(arch['attn_mlp_ratios'], 'attn_mlp_ratios',
                                          family)
        expand_ratios = list(arch['expand_ratios'])
        if not expand_ratios or not all(isinstance(r, int) and r >= 1
                                        for r in expand_ratios):
            raise ValueError(f'{family}: arch["expand_ratios"] must be a non-empty '
                             f'sequence of positive ints, got {expand_ratios}.')
        num_heads, kernel_size = arch['num_heads'], arch['kernel_size']
        self.out_channels = embed_dims
        self.out_strides = [4, 8, 16, 32]  # k7 s4 stem, then k3 s2 before stages 2-4
        self.final_norm = final_norm

        self.stem = ConvPatchEmbed(in_channels, embed_dims[0], 7, 4, norm_cfg)
        num_blocks = sum(depths) + sum(attn_depths)
        dpr = torch.linspace(0, self.drop_path_rate, num_blocks).tolist()
        self.stages = nn.ModuleList()
        cursor = 0
        for i, dims in enumerate(embed_dims):
            downsample = None if i == 0 else ConvPatchEmbed(
                embed_dims[i - 1], dims, 3, 2, norm_cfg)
            blocks = nn.ModuleList()
            for j in range(depths[i]):
                blocks.append(EfficientModBlock(
                    dims, expand_ratios[j % len(expand_ratios)], kernel_size,
                    layer_scale_init_value, dpr[cursor], norm_cfg, act_cfg))
                cursor += 1
            for _ in range(attn_depths[i]):
                blocks.append(EfficientModAttentionBlock(
                    dims, attn_mlp_ratios[i], num_heads, drop_path_rate=dpr[cursor],
                    norm_cfg=norm_cfg, act_cfg=act_cfg))
                cursor += 1
            self.stages.append(EfficientModStage(downsample, blocks))
        if final_norm:
            self.norm = build_channels_last_norm(norm_cfg, embed_dims[-1])
        self._post_init()

    def switch_to_deploy(self):
        """The inference form (:func:`~mmhad.models.deploy.switch_to_deploy`), and each
        downsampling conv's weight stored channels-last: the conv is fed the NCHW view of
        a channels-last tensor, so oneDNN runs it channels-last and would otherwise copy
        the weight into that layout on every call (the same values; EfficientMod-xs at
        224x224, batch 1, 2 threads: 0.977x the time, 0.967-0.987 over 30 interleaved
        rounds). The stem's conv keeps its layout: its input is the NCHW image. In
        place, idempotent."""
        super().switch_to_deploy()
        for stage in self.stages:
            if stage.downsample is not None:
                conv = stage.downsample.conv
                conv.weight.data = conv.weight.data.contiguous(
                    memory_format=torch.channels_last)
        return self

    def _forward_stem(self, x: Tensor) -> Tensor:
        return super()._forward_stem(x.permute(0, 2, 3, 1))  # channels-last inside

    def _format_output(self, stage: int, x: Tensor) -> Tensor:
        if self.final_norm and stage == len(self.stages) - 1:
            x = self.norm(x)
        return x.permute(0, 3, 1, 2)  # NCHW view; forward() makes it contiguous
