"""Hadamard drop-in for mmpretrain's MobileNetV3 (Hadaptive-Net paper, Section 4.1,
Tables 2 and 4). Registered only when mmpretrain is installed (see ``__init__.py``)."""
from typing import Optional, Sequence, Union

import torch
from mmpretrain.models.backbones import MobileNetV3

from mmhad.registry import MODELS
from ..layers.hadamard_bottleneck import AdaptiveBottleneck, check_ach_cfg
from .base import (SelectedOutputs, check_drop_path_rate, check_flag, check_frozen_stages, check_input,
                   check_out_indices, refuse_training_if_deployed, run_blocks,
                   switch_to_deploy)


@MODELS.register_module()
class HadamardMobileNetV3(SelectedOutputs, MobileNetV3):
    """mmpretrain's ``MobileNetV3`` with chosen inverted bottlenecks replaced by
    Hadamard bottlenecks (paper Section 4.1, Tables 2 and 4).

    A Hadamard bottleneck keeps the replaced layer's kernel, stride, output width,
    activation and squeeze-excitation, but expands with Adaptive Cross-Hadamard
    (``C -> C + Cs (Cs - 1) / 2``) instead of a 1x1 conv; its SE squeezes to
    ``hidden // 4`` channels, as in the public ``HadamardResidual``.

    The backbone keeps MobileNetV3's indexing (``layer0`` the stem, ``layer1..n`` the
    inverted bottlenecks, ``layer{n+1}`` the last 1x1 conv; ``out_indices`` and
    ``frozen_stages`` count these layers) and adds mmhad's contract: ``out_channels`` /
    ``out_strides`` (one entry per layer) and ``channels`` / ``strides`` (the selected
    outputs), validated arguments, ``drop_path_rate`` and ``with_cp`` through the same
    mechanism as the other mmhad backbones.

    Args:
        arch (str): mmpretrain MobileNetV3 arch (``'small'``, ``'large'``, ...).
            Defaults to ``'small'``.
        hadamard_layers (Sequence[int]): Names ``layer{i}`` of the inverted
            bottlenecks to replace, ``1..num_bottlenecks`` (inverted bottleneck
            ``IB{i-1}`` of the paper's Table 2). Defaults to ``(10, 11)``, the last two
            of the small arch (paper Table 4: 1.61 M -> 1.55 M params at 100 classes).
        num_selected (int | Sequence[int]): ACH selected channels ``Cs``, one for all
            or one per replaced layer; at most the layer's input width.
            Defaults to 32 (public ``hadamard.yaml``).
        hadamard_norm (str | type): ACH product normalisation. Defaults to ``'BN'``.
        ach_cfg (dict, optional): Further ACH arguments, e.g. ``dict(ste='public')``.
        out_indices (int | Sequence[int], optional): Layers to output; ``None``: the
            last layer (mmpretrain's default).
        frozen_stages (int): ``-1`` none, ``i``: ``layer0..layer{i}``. Defaults to -1.
        norm_eval (bool): Keep BN layers in eval mode while training. Defaults to False.
        drop_path_rate (float, optional): Stochastic depth on the residual branch of the
            bottlenecks, increased linearly over them. ``None``: the official value, 0
            (MobileNetV3 and the public Hadamard variant train without it).
        with_cp (bool): Gradient checkpointing per layer in training. Defaults to False.
        **kwargs: The other ``MobileNetV3`` arguments (``conv_cfg``, ``norm_cfg``,
            ``init_cfg``).
    """

    # the layout the layers run in (see MMHadBackbone.memory_format)
    memory_format = torch.channels_last

    def __init__(self,
                 arch: str = 'small',
                 hadamard_layers: Sequence[int] = (10, 11),
                 num_selected: Union[int, Sequence[int]] = 32,
                 hadamard_norm='BN',
                 ach_cfg: Optional[dict] = None,
                 out_indices: Union[None, int, Sequence[int]] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 drop_path_rate: Optional[float] = None,
                 with_cp: bool = False,
                 **kwargs):
        family = type(self).__name__
        self.ach_cfg = check_ach_cfg(ach_cfg, family)
        if not isinstance(arch, str):
            raise TypeError(f'{family}: arch must be a name from '
                            f'{sorted(self.arch_settings)} (mmpretrain\'s MobileNetV3 '
                            f'archs), got {type(arch).__name__}.')
        if arch not in self.arch_settings:
            raise ValueError(f'{family}: unknown arch {arch!r}. Valid names: '
                             f'{sorted(self.arch_settings)}.')
        settings = self.arch_settings[arch]
        num_layers = len(settings) + 2
        if out_indices is None:
            out_indices = num_layers - 1
        out_indices = check_out_indices(out_indices, family, num_layers)
        frozen_stages = check_frozen_stages(frozen_stages, family, num_layers - 1)
        norm_eval = check_flag(norm_eval, 'norm_eval', family)
        with_cp = check_flag(with_cp, 'with_cp', family)
        self.drop_path_rate = check_drop_path_rate(drop_path_rate, 0., family)
        if isinstance(hadamard_layers, int):
            hadamard_layers = (hadamard_layers, )
        hadamard_layers = tuple(hadamard_layers)
        for index in hadamard_layers:
            if isinstance(index, bool) or not isinstance(index, int) \
                    or not 1 <= index <= len(settings):
                raise ValueError(
                    f'{family}: hadamard_layers entry {index!r} is not an inverted '
                    f'bottleneck of arch {arch!r}; valid: 1..{len(settings)} '
                    f'(layer0 is the stem, layer{len(settings) + 1} the last conv).')
        if len(set(hadamard_layers)) != len(hadamard_layers):
            raise ValueError(f'{family}: hadamard_layers {hadamard_layers} repeats a layer.')
        if isinstance(num_selected, int):
            num_selected = (num_selected, ) * len(hadamard_layers)
        num_selected = tuple(num_selected)
        if len(num_selected) != len(hadamard_layers):
            raise ValueError(f'{family}: num_selected needs one value per hadamard layer '
                             f'({len(hadamard_layers)}), got {num_selected}.')
        for index, cs in zip(hadamard_layers, num_selected):
            in_channels = settings[index - 2][2] if index > 1 else 16
            if not isinstance(cs, int) or not 2 <= cs <= in_channels:
                raise ValueError(f'{family}: num_selected for layer{index} must be an int '
                                 f'in 2..{in_channels} (its input width), got {cs!r}.')
        # read by _make_layer, which MobileNetV3.__init__ calls
        self.hadamard_layers = dict(zip(hadamard_layers, num_selected))
        self.hadamard_norm = hadamard_norm
        self.deploy = False
        # checkpointing is ours (run_blocks), not InvertedResidual's
        super().__init__(arch=arch, out_indices=out_indices, frozen_stages=frozen_stages,
                         norm_eval=norm_eval, with_cp=False, **kwargs)  # MobileNetV3
        self.with_cp = with_cp
        self.out_channels = [16] + [s[2] for s in settings] + [settings[-1][1]]
        strides, stride = [2], 2
        for s in settings:
            stride *= s[-1]
            strides.append(stride)
        self.out_strides = strides + [stride]
        self._freeze_stages()

    def _make_layer(self):
        layers = super()._make_layer()
        settings = self.arch_settings[self.arch]
        for index, cs in sorted(self.hadamard_layers.items()):
            kernel_size, _, out_channels, with_se, act, stride = settings[index - 1]
            in_channels = settings[index - 2][2] if index > 1 else 16
            se_cfg = dict(
                ratio=4, divisor=1,
                act_cfg=(dict(type='ReLU'),
                         dict(type='HSigmoid', bias=3, divisor=6, min_value=0,
                              max_value=1))) if with_se else None
            self.add_module(f'layer{index}', AdaptiveBottleneck(
                in_channels, out_channels, 'hadamard', cs, kernel_size=kernel_size,
                stride=stride, hadamard_norm=self.hadamard_norm, ach_cfg=self.ach_cfg,
                se_cfg=se_cfg,
                norm_cfg=self.norm_cfg, act_cfg=dict(type=act)))
        if self.drop_path_rate > 0:
            from mmcv.cnn.bricks import DropPath
            rates = torch.linspace(0, self.drop_path_rate, len(settings)).tolist()
            for index, rate in enumerate(rates, 1):
                layer = getattr(self, f'layer{index}')
                residual = getattr(layer, 'with_residual',
                                   getattr(layer, 'with_res_shortcut', False))
                if residual and rate > 0:
                    layer.drop_path = DropPath(rate)
        return layers

    def forward(self, x):
        check_input(x, self.layer0.conv.in_channels, type(self).__name__)
        x = x.contiguous(memory_format=self.memory_format)
        outs = []
        for i, layer_name in enumerate(self.layers[:self.out_indices[-1] + 1]):
            x = run_blocks((getattr(self, layer_name), ), x, self.with_cp)
            if i in self.out_indices:  # contiguous NCHW (see MMHadBackbone.memory_format)
                outs.append(x.contiguous())
        return tuple(outs)

    def switch_to_deploy(self):
        """The inference form (``base.switch_to_deploy``): in place, idempotent."""
        return switch_to_deploy(self)

    def train(self, mode: bool = True):
        """``nn.Module.train`` returns the module; mmpretrain's ``MobileNetV3.train``
        returns None, which breaks ``model.eval()`` chains (e.g. ``copy(m).eval()``)."""
        refuse_training_if_deployed(self, mode)
        super().train(mode)
        return self
