"""Hadaptive-Net (Zhang et al., "Hadaptive-Net: Efficient Vision Models via Adaptive
Cross-Hadamard Synergy"). The Hadamard drop-in for mmpretrain's MobileNetV3 is in
``hadamard_mobilenet_v3.py``.

Layout (paper Figure 4, Section 3.4), per block as in the public S/M/L model files
(``acelych/conductor``, ``utils/resources/model_example/hadaptivenet_{s,m,l}.yaml``):

* stem: a linear 2x2 stride-2 conv (BN, no activation)                      stride 2
* stage 1: a 2x2 stride-2 conv and a 1x1 conv, both BN + Hardswish          stride 4
* stage 2: two Ghost Adaptive Bottlenecks, the first downsampling           stride 8
* stage 3: a Ghost downsampling bottleneck, then Hadamard (ACH) residual
  bottlenecks interleaved with Ghost residual bottlenecks, 5x5 kernels      stride 16
* stage 4: as stage 3 with 7x7 kernels                                       stride 32
* optionally a 1x1 conv to 960 channels (BN + Hardswish) closing stage 4, which the
  public classifier has before its pooled MLP head (960 -> 1280 -> classes).

Every downsampling is a 2x2 stride-2 conv; odd sides are zero-padded bottom/right, so
stage ``i`` outputs ``ceil(H / 2^(i+2))`` rows for any input size.

Note: the public Hadaptive-Net-L has a second Ghost stride-2 block in stage 4 (its last
stage ends at stride 64, 3x3 at 224x224; Table 5's 1385 MFLOPs are those of this layout).
``arch='l'`` reproduces it; ``max_stride=32`` turns every stride-2 block past stride 32
into a stride-1 residual block with the stage's kernel, for dense heads that expect
strides 4/8/16/32.
"""
from typing import Optional, Sequence, Union

import torch
from mmcv.cnn import ConvModule
from torch import nn

from mmhad.registry import MODELS
from ..layers.hadamard_bottleneck import (AdaptiveBottleneck, PatchifyPair, build_conv,
                                          check_ach_cfg)
from .base import MMHadBackbone, check_per_stage

# Block specs, one list per stage:
#   ('conv',  out_channels, kernel_size, stride)                     BN + Hardswish
#   ('ghost', out_channels, expand_ratio (float), kernel_size, stride)
#   ('hada',  out_channels, num_selected (int), kernel_size, stride[, hadamard_norm])
# hadamard_norm defaults to 'BN' (the public AdaptiveBottleneck's default).


def _g(c, e, k, s=1):
    return ('ghost', c, float(e), k, s)


def _h(c, cs, k, norm='BN'):
    return ('hada', c, int(cs), k, 1, norm)


ARCH_SETTINGS = {
    # hadaptivenet_s.yaml
    's': dict(
        stem_channels=32,
        layers=[
            [('conv', 48, 2, 2), ('conv', 32, 1, 1)],
            [_g(64, 4.0, 2, 2), _g(64, 2.0, 3)],
            [_g(96, 4.0, 2, 2),
             _h(96, 16, 5, 'DySoft'), _h(96, 16, 5, 'DySoft'), _g(96, 2.0, 5),
             _h(96, 16, 5, 'DySoft'), _h(96, 16, 5, 'DySoft')],
            [_g(128, 6.0, 2, 2), _h(128, 32, 7, 'DySoft'), _h(128, 32, 7, 'DySoft')],
        ],
        last_conv_channels=960),
    # hadaptivenet_m.yaml
    'm': dict(
        stem_channels=32,
        layers=[
            [('conv', 128, 2, 2), ('conv', 48, 1, 1)],
            [_g(80, 4.0, 2, 2), _g(80, 2.0, 3)],
            [_g(128, 6.0, 2, 2),
             _h(128, 24, 5, 'DySoft'), _h(128, 24, 5), _g(128, 4.0, 5),
             _h(128, 24, 5, 'DySoft'), _h(128, 24, 5), _g(128, 4.0, 5),
             _h(128, 24, 5, 'DySoft'), _h(128, 24, 5)],
            [_g(192, 6.0, 2, 2), _h(192, 36, 7, 'DySoft'), _h(192, 36, 7)],
        ],
        last_conv_channels=960),
    # hadaptivenet_l.yaml (note the second stride-2 Ghost block in stage 4)
    'l': dict(
        stem_channels=24,
        layers=[
            [('conv', 96, 2, 2), ('conv', 48, 1, 1)],
            [_g(96, 4.0, 2, 2), _g(96, 4.0, 3)],
            [_g(192, 4.0, 2, 2),
             _h(192, 32, 5, 'DySoft'), _h(192, 32, 5), _g(192, 4.0, 5),
             _h(192, 32, 5, 'DySoft'), _h(192, 32, 5), _g(192, 4.0, 5),
             _h(192, 32, 5, 'DySoft'), _h(192, 32, 5), _g(192, 4.0, 5),
             _h(192, 32, 5, 'DySoft'), _h(192, 32, 5)],
            [_g(256, 4.0, 2, 2), _h(256, 36, 7, 'DySoft'), _h(256, 36, 7),
             _g(256, 4.0, 2, 2), _h(256, 36, 7, 'DySoft'), _h(256, 36, 7)],
        ],
        last_conv_channels=960),
}

REQUIRED_KEYS = ('stem_channels', 'layers', 'last_conv_channels')
_SPEC_LEN = {'conv': (4, ), 'ghost': (5, ), 'hada': (5, 6)}


def _check_spec(spec, stage: int, index: int, family: str) -> tuple:
    where = f'{family}: arch["layers"][{stage}][{index}]'
    if not isinstance(spec, (list, tuple)) or not spec or spec[0] not in _SPEC_LEN:
        raise ValueError(f'{where} must be a tuple starting with one of '
                         f'{sorted(_SPEC_LEN)}, got {spec!r}.')
    if len(spec) not in _SPEC_LEN[spec[0]]:
        raise ValueError(
            f'{where} = {spec!r}: expected ("conv", out, kernel, stride), '
            f'("ghost", out, ratio, kernel, stride) or '
            f'("hada", out, num_selected, kernel, stride[, hadamard_norm]).')
    if spec[3 if spec[0] == 'conv' else 4] not in (1, 2):
        raise ValueError(f'{where} = {spec!r}: stride must be 1 or 2.')
    return tuple(spec) + (('BN', ) if spec[0] == 'hada' and len(spec) == 5 else ())


@MODELS.register_module()
class HadaptiveNet(MMHadBackbone):
    """Hadaptive-Net backbone (stem + four stages), for mmpretrain/mmdet/mmseg.

    Args:
        arch (str | dict): ``'s'``, ``'m'``, ``'l'`` or a dict with keys
            ``stem_channels`` (int), ``layers`` (four lists of block specs, see
            ``ARCH_SETTINGS``) and ``last_conv_channels`` (int or None).
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Stages whose outputs are returned
            (0..3, strides 4/8/16/32). Defaults to ``(0, 1, 2, 3)``.
        frozen_stages (int): -1 freezes nothing, 0 the stem, i the stem and stages
            1..i. Defaults to -1.
        norm_eval (bool): Keep norm layers in eval mode while training.
            Defaults to False.
        drop_path_rate (float, optional): Stochastic depth on the residual branch of the
            Adaptive Bottlenecks, increased linearly over all bottlenecks. ``None``: the
            arch's official value (0: the public models train without it).
        with_cp (bool): Gradient checkpointing per block in training (shared with every
            backbone, ``base.run_blocks``). Defaults to False.
        with_last_conv (bool): Close stage 4 with the public model's 1x1 conv to
            ``last_conv_channels`` (960) + BN + Hardswish, as its classifier expects.
            Defaults to True.
        max_stride (int, optional): If given (e.g. 32), stride-2 blocks that would
            exceed it keep resolution instead (stride 1, the stage's odd kernel). Only
            Hadaptive-Net-L is affected. Defaults to None (the public layout).
        norm_cfg (dict): Norm of every conv. Defaults to ``dict(type='BN')``.
        ach_cfg (dict, optional): Further arguments of every ACH layer, e.g.
            ``dict(ste='public')`` for the straight-through sign of the official code
            (configs/hadaptive_net/README.md#fidelity). Defaults to None (ACH's own).
        init_cfg (dict | list[dict], optional): mmengine init config (e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``).
    """

    arch_settings = ARCH_SETTINGS
    arch_required_keys = REQUIRED_KEYS

    def __init__(self,
                 arch: Union[str, dict] = 's',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 drop_path_rate: Optional[float] = None,
                 with_cp: bool = False,
                 with_last_conv: bool = True,
                 max_stride: Optional[int] = None,
                 norm_cfg: dict = dict(type='BN'),
                 ach_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(arch, out_indices, frozen_stages, norm_eval, drop_path_rate,
                         with_cp, init_cfg=init_cfg)
        family = type(self).__name__
        ach_cfg = check_ach_cfg(ach_cfg, family)
        arch = self.arch
        layers = check_per_stage(arch['layers'], 'layers', family)
        if max_stride is not None and max_stride not in (4, 8, 16, 32, 64):
            raise ValueError(f'{family}: max_stride must be None or a power of two in '
                             f'4..64, got {max_stride!r}.')
        for i, stage_specs in enumerate(layers):
            if not stage_specs:
                raise ValueError(f'{family}: arch["layers"][{i}] (stage {i + 1}) is empty.')
        layers = [[_check_spec(s, i, j, family) for j, s in enumerate(stage_specs)]
                  for i, stage_specs in enumerate(layers)]
        hswish = dict(type='HSwish')
        num_bottlenecks = sum(spec[0] != 'conv' for specs in layers for spec in specs)
        dpr = iter(torch.linspace(0, self.drop_path_rate, num_bottlenecks).tolist())

        stem_channels = arch['stem_channels']
        self.stem = build_conv(in_channels, stem_channels, 2, 2, norm_cfg=norm_cfg,
                               act_cfg=None, who=f'{family} stem')
        channels, stride = stem_channels, 2
        self.stages = nn.ModuleList()
        self.out_channels, self.out_strides = [], []
        for i, specs in enumerate(layers):
            odd_kernels = [s[3] for s in specs if s[0] != 'conv' and s[3] % 2]
            blocks = []
            for spec in specs:
                kind, out = spec[0], spec[1]
                if kind == 'conv':
                    _, _, k, s = spec
                    blocks.append(build_conv(channels, out, k, s, norm_cfg=norm_cfg,
                                             act_cfg=hswish, who=f'{family} stage {i + 1}'))
                else:
                    _, _, expansion, k, s = spec[:5]
                    if s == 2 and max_stride is not None and stride * 2 > max_stride:
                        s, k = 1, (odd_kernels[0] if odd_kernels else 3)
                    blocks.append(AdaptiveBottleneck(
                        channels, out, 'hadamard' if kind == 'hada' else 'ghost',
                        expansion, kernel_size=k, stride=s,
                        hadamard_norm=spec[5] if kind == 'hada' else 'BN',
                        ach_cfg=ach_cfg, norm_cfg=norm_cfg, act_cfg=hswish,
                        drop_path_rate=next(dpr)))
                channels, stride = out, stride * s
            if i == len(layers) - 1 and with_last_conv and arch['last_conv_channels']:
                blocks.append(ConvModule(channels, arch['last_conv_channels'], 1,
                                         norm_cfg=norm_cfg, act_cfg=hswish))
                channels = arch['last_conv_channels']
            self.stages.append(nn.Sequential(*blocks))
            self.out_channels.append(channels)
            self.out_strides.append(stride)
        self._post_init()

    def switch_to_deploy(self):
        """The inference form (:func:`~mmhad.models.deploy.switch_to_deploy`), and the
        linear stem and stage 1's first conv (both 2x2 stride 2) composed into one 4x4
        stride-4 conv (:class:`PatchifyPair`; input sizes it cannot compose exactly run
        the two convs). In place, idempotent."""
        super().switch_to_deploy()
        first = self.stages[0][0]  # stages are never empty (checked in __init__)
        if PatchifyPair.composable(self.stem, first):
            self.stem = PatchifyPair(self.stem, first)
            self.stages[0][0] = nn.Identity()
        return self
