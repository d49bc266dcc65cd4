"""Hadamard drop-in for mmpretrain's MobileNetV3 (Hadaptive-Net paper, Section 4.1,
Tables 2 and 4). Registered only when mmpretrain is installed (see ``__init__.py``)."""
from typing import Optional, Sequence, Union

from mmpretrain.models.backbones import MobileNetV3

from mmhad.registry import MODELS
from ..layers.hadamard_bottleneck import AdaptiveBottleneck, check_ach_cfg


@MODELS.register_module()
class HadamardMobileNetV3(MobileNetV3):
    """mmpretrain's ``MobileNetV3`` with chosen inverted bottlenecks replaced by
    Hadamard bottlenecks (paper Section 4.1, Tables 2 and 4).

    A Hadamard bottleneck keeps the replaced layer's kernel, stride, output width,
    activation and squeeze-excitation, but expands with Adaptive Cross-Hadamard
    (``C -> C + Cs (Cs - 1) / 2``) instead of a 1x1 conv; its SE squeezes to
    ``hidden // 4`` channels, as in the public ``HadamardResidual``.

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
        **kwargs: The other ``MobileNetV3`` arguments (``out_indices``,
            ``frozen_stages``, ``norm_eval``, ``norm_cfg``, ``init_cfg``, ...).
    """

    def __init__(self,
                 arch: str = 'small',
                 hadamard_layers: Sequence[int] = (10, 11),
                 num_selected: Union[int, Sequence[int]] = 32,
                 hadamard_norm='BN',
                 ach_cfg: Optional[dict] = None,
                 **kwargs):
        family = type(self).__name__
        self.ach_cfg = check_ach_cfg(ach_cfg, family)
        if arch not in self.arch_settings:
            raise ValueError(f'{family}: unknown arch {arch!r}; valid: '
                             f'{sorted(self.arch_settings)}.')
        settings = self.arch_settings[arch]
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
        super().__init__(arch=arch, **kwargs)  # MobileNetV3

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
        return layers

    def train(self, mode: bool = True):
        """``nn.Module.train`` returns the module; mmpretrain's ``MobileNetV3.train``
        returns None, which breaks ``model.eval()`` chains (e.g. ``copy(m).eval()``)."""
        super().train(mode)
        return self
