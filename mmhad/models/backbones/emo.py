"""EMO: Efficient MOdel built only from iRMBs (Zhang et al., ICCV 2023).

Structure (paper Sec. 2.4, Fig. 2; official ``model/emo.py``):

* stem (stride 2): ``MSPatchEmb`` (3x3 s2 conv + BN) and an iRMB without input norm,
  expansion, attention or skip, with DW-conv and squeeze-excitation (ratio 1);
* four stages at strides 4/8/16/32; the first block of each has stride 2, no attention
  and a doubled expansion ratio; EW-MHSA only in stages 3-4;
* BN + SiLU in stages 1-2, LN + GELU in stages 3-4; every DW-conv is BN + SiLU;
  DW kernels 3/3/5/5; eps 1e-6 everywhere.
"""
from typing import Optional, Sequence, Union

import torch
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from mmhad.registry import MODELS

from ..layers.irmb import EMO_BN, EMO_LN, MSPatchEmb, iRMB
from .base import NUM_STAGES, MMHadBackbone, check_per_stage

# Paper Tab. 4 (depths, dims, expansion ratios) and the official factories ``EMO_1M`` ..
# ``EMO_6M`` (head dims, drop path; 6M is the paper's Sec. 3.1 variant with 320 channels in
# stage 4). Params of the 1000-class classifier: 1.361 / 2.377 / 5.109 / 6.168 M.
ARCH_SETTINGS = {
    '1m': dict(depths=[2, 2, 8, 3], embed_dims=[32, 48, 80, 168],
               exp_ratios=[2.0, 2.5, 3.0, 3.5], head_dims=[16, 16, 20, 21],
               drop_path_rate=0.04036),
    '2m': dict(depths=[3, 3, 9, 3], embed_dims=[32, 48, 120, 200],
               exp_ratios=[2.0, 2.5, 3.0, 3.5], head_dims=[16, 16, 20, 20],
               drop_path_rate=0.05),
    '5m': dict(depths=[3, 3, 9, 3], embed_dims=[48, 72, 160, 288],
               exp_ratios=[2.0, 3.0, 4.0, 4.0], head_dims=[24, 24, 32, 32],
               drop_path_rate=0.05),
    '6m': dict(depths=[3, 3, 9, 3], embed_dims=[48, 72, 160, 320],
               exp_ratios=[2.0, 3.0, 4.0, 5.0], head_dims=[16, 24, 20, 32],
               drop_path_rate=0.05),
}
# Shared by all variants; an arch dict may override any of them.
ARCH_DEFAULTS = dict(stem_channels=24, kernel_sizes=[3, 3, 5, 5],
                     use_attn=[False, False, True, True], drop_path_rate=0.)
REQUIRED_KEYS = ('depths', 'embed_dims', 'exp_ratios', 'head_dims')


def _per_stage(value, name: str, allow_none: bool = False) -> list:
    if isinstance(value, (list, tuple)):
        values = list(value)
        if len(values) != NUM_STAGES:
            raise ValueError(f'EMO: {name} needs one value or {NUM_STAGES} (one per '
                             f'stage), got {value!r}.')
    else:
        values = [value] * NUM_STAGES
    for v in values:
        if not (isinstance(v, int) or (allow_none and v is None)):
            raise TypeError(f'EMO: {name} must be an int or {NUM_STAGES} ints, got '
                            f'{value!r}.')
    return values


@MODELS.register_module()
class EMO(MMHadBackbone):
    """EMO backbone (paper Tab. 4), four outputs at strides 4/8/16/32.

    The shared arguments (``arch``, ``out_indices``, ``frozen_stages``, ``norm_eval``,
    ``drop_path_rate``, ``with_cp``, ``init_cfg``) and the attributes ``out_channels`` /
    ``out_strides`` are those of :class:`~mmhad.models.backbones.base.MMHadBackbone`.

    Args:
        arch (str | dict): ``'1m'``, ``'2m'``, ``'5m'``, ``'6m'`` or a dict with
            ``depths``, ``embed_dims``, ``exp_ratios``, ``head_dims`` (4 values each) and
            optionally ``stem_channels`` (24), ``kernel_sizes`` ([3, 3, 5, 5]),
            ``use_attn`` ([F, F, T, T]), ``drop_path_rate`` (0).
        in_channels (int): Input channels. Default: 3.
        out_indices (int | Sequence[int]): Stages to output (0-3). Default: (0, 1, 2, 3).
        frozen_stages (int): -1: none; 0: stem; i: stem and stages 1..i. Default: -1.
        norm_eval (bool): Keep norm layers in eval mode while training. Default: False.
        drop_path_rate (float, optional): Stochastic depth, linear over all blocks.
            ``None``: the arch's official value (``arch['drop_path_rate']``: 0.04036 for
            1m, 0.05 otherwise).
        window_size (int | Sequence[int]): Attention window per stage (only attention
            stages use it); ``0``/``None``: global. Official: 7 for classification, 10
            for SSDLite/RetinaNet 5M, 16 for DeepLabv3/PSPNet 5M.
        attn_pre (bool): Attention before the value expansion (official: True).
        qkv_bias (bool): Bias of the q/k and v 1x1 convs. Default: True.
        attn_drop_rate (float): Attention dropout. Default: 0.
        drop_rate (float): Dropout before each block's projection. Default: 0.
        norm_cfg (dict): Norm of the stem and the non-attention stages, and of every
            DW-conv. Default: BN, eps 1e-6 (use SyncBN for detection).
        act_cfg (dict): Activation of the same places. Default: SiLU.
        attn_norm_cfg (dict): Norm of the attention stages (and the final norm).
            Default: ``LN2d``, eps 1e-6.
        attn_act_cfg (dict): Activation of the attention stages. Default: GELU.
        final_norm (bool): Apply the official pre-head norm (``norm``) to the stage-4
            output (classification). Default: False.
        with_cp (bool): Gradient checkpointing per block in training (shared with every
            backbone, ``base.run_blocks``). Default: False.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained', checkpoint=...,
            prefix='backbone.')`` for a converted classifier checkpoint.
    """

    arch_settings = ARCH_SETTINGS
    arch_required_keys = REQUIRED_KEYS
    arch_defaults = ARCH_DEFAULTS

    def __init__(self,
                 arch: Union[str, dict] = '5m',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 drop_path_rate: Optional[float] = None,
                 window_size: Union[int, None, Sequence[Optional[int]]] = 7,
                 attn_pre: bool = True,
                 qkv_bias: bool = True,
                 attn_drop_rate: float = 0.,
                 drop_rate: float = 0.,
                 norm_cfg: dict = EMO_BN,
                 act_cfg: dict = dict(type='SiLU'),
                 attn_norm_cfg: dict = EMO_LN,
                 attn_act_cfg: dict = dict(type='GELU'),
                 final_norm: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, frozen_stages, norm_eval, drop_path_rate,
                         with_cp, init_cfg=init_cfg)
        arch = self.arch
        depths = check_per_stage(arch['depths'], 'depths', 'EMO')
        embed_dims = check_per_stage(arch['embed_dims'], 'embed_dims', 'EMO')
        exp_ratios = check_per_stage(arch['exp_ratios'], 'exp_ratios', 'EMO')
        head_dims = check_per_stage(arch['head_dims'], 'head_dims', 'EMO')
        kernel_sizes = check_per_stage(arch['kernel_sizes'], 'kernel_sizes', 'EMO')
        use_attn = check_per_stage(arch['use_attn'], 'use_attn', 'EMO')
        window_sizes = _per_stage(window_size, 'window_size', allow_none=True)
        for i in range(NUM_STAGES):
            if use_attn[i] and embed_dims[i] % head_dims[i]:
                raise ValueError(
                    f'EMO: stage {i + 1} uses attention but embed_dims {embed_dims[i]} is '
                    f'not divisible by head_dims {head_dims[i]}.')
        self.final_norm = final_norm
        self.out_channels = list(embed_dims)
        self.out_strides = [4, 8, 16, 32]  # stem and every stage's first block: stride 2

        stem_channels = arch['stem_channels']
        self.stem = nn.Sequential(
            MSPatchEmb(in_channels, stem_channels, kernel_size=kernel_sizes[0], stride=2,
                       norm_cfg=norm_cfg, act_cfg=None),
            iRMB(stem_channels, stem_channels, expand_ratio=1.0, kernel_size=kernel_sizes[0],
                 norm_in=False, has_skip=False, v_proj=False, se_ratio=1.0,
                 act_cfg=act_cfg, dw_norm_cfg=norm_cfg, dw_act_cfg=act_cfg,
                 drop_rate=drop_rate))

        dpr = torch.linspace(0, self.drop_path_rate, sum(depths)).tolist()
        self.stages = nn.ModuleList()
        channels, block_id = stem_channels, 0
        for i in range(NUM_STAGES):
            stage_norm = attn_norm_cfg if use_attn[i] else norm_cfg
            stage_act = attn_act_cfg if use_attn[i] else act_cfg
            blocks = []
            for j in range(depths[i]):
                first = j == 0  # down-sampling block: stride 2, no attention, 2x expansion
                blocks.append(iRMB(
                    channels, embed_dims[i],
                    expand_ratio=exp_ratios[i] * (2 if first else 1),
                    stride=2 if first else 1, kernel_size=kernel_sizes[i],
                    has_skip=not first, use_attn=use_attn[i] and not first,
                    head_dim=head_dims[i], window_size=window_sizes[i], attn_pre=attn_pre,
                    qkv_bias=qkv_bias, norm_cfg=stage_norm, act_cfg=stage_act,
                    dw_norm_cfg=norm_cfg, dw_act_cfg=act_cfg,
                    attn_drop_rate=attn_drop_rate, drop_rate=drop_rate,
                    drop_path_rate=dpr[block_id]))
                channels = embed_dims[i]
                block_id += 1
            self.stages.append(nn.Sequential(*blocks))

        if final_norm:
            last_norm = attn_norm_cfg if use_attn[-1] else norm_cfg
            self.norm = build_norm_layer(last_norm, embed_dims[-1])[1]
        self._post_init()

    def init_weights(self):
        super().init_weights()
        if self.init_cfg is None:
            # The official model keeps PyTorch's default conv init (mmcv's ConvModule
            # re-initialises with Kaiming at construction); norms are weight 1, bias 0.
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    m.reset_parameters()

    def _format_output(self, stage: int, x: Tensor) -> Tensor:
        return self.norm(x) if self.final_norm and stage == NUM_STAGES - 1 else x
