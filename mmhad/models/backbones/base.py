"""The contract every mmhad backbone shares, written once.

Every family (EMO, EfficientMod, Hadaptive-Net) subclasses :class:`MMHadBackbone`, which
owns the arguments and behaviour a config or a neck relies on, the way mmpretrain's
backbones share theirs (``mmpretrain/models/backbones/mobilenet_v3.py``):

* ``arch``: a name from the family's ``arch_settings`` (case-insensitive, ``-`` = ``_``)
  or a full dict with the family's ``arch_required_keys``;
* ``out_indices``: which of the four stages to return (negative indices count from the
  end); the instance attributes ``out_channels`` and ``out_strides`` give, per stage, the
  channels and the stride of the *built* layout, and ``channels`` / ``strides`` those of
  the selected outputs, so a neck reads ``backbone.channels`` instead of a typed list;
* ``frozen_stages`` (``-1`` none, ``0`` stem, ``i`` stem + first ``i`` stages) and
  ``norm_eval``;
* ``drop_path_rate``: stochastic depth, increased linearly over the blocks; ``None``
  means the arch's official value (``arch['drop_path_rate']``, 0 where the official
  model has none), for every family;
* ``with_cp``: gradient checkpointing of every stem / stage module in training, one
  mechanism (:func:`run_blocks`) for every family;
* ``init_cfg``: mmengine's, e.g. ``dict(type='Pretrained', checkpoint=...,
  prefix='backbone.')``.
"""
from copy import deepcopy
from typing import Dict, Iterable, Optional, Sequence, Union

import torch
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..deploy import refuse_training_if_deployed, switch_to_deploy

NUM_STAGES = 4


def resolve_arch(arch: Union[str, dict], arch_settings: Dict[str, dict],
                 required_keys: Iterable[str], family: str,
                 defaults: Optional[dict] = None) -> dict:
    """Return a copy of the arch dict named by ``arch`` (or ``arch`` itself, checked),
    completed with ``defaults`` for the keys it does not set."""
    if isinstance(arch, str):
        key = arch.lower().replace('-', '_')
        if key not in arch_settings:
            raise ValueError(
                f'{family}: unknown arch {arch!r}. Valid names: '
                f'{sorted(arch_settings)}; or pass a dict with keys '
                f'{sorted(required_keys)}.')
        arch = arch_settings[key]
    elif not isinstance(arch, dict):
        raise TypeError(f'{family}: arch must be a name from '
                        f'{sorted(arch_settings)} or a dict, got {type(arch).__name__}.')
    else:
        missing = set(required_keys) - set(arch)
        if missing:
            raise ValueError(f'{family}: arch dict is missing keys {sorted(missing)}; '
                             f'a full arch dict needs {sorted(required_keys)}.')
    return {**deepcopy(defaults or {}), **deepcopy(arch)}


def check_per_stage(values: Sequence, name: str, family: str,
                    num_stages: int = NUM_STAGES) -> list:
    """Check that an arch entry has one value per stage."""
    values = list(values)
    if len(values) != num_stages:
        raise ValueError(f'{family}: arch[{name!r}] needs {num_stages} values (one per '
                         f'stage), got {len(values)}: {values}.')
    return values


def check_out_indices(out_indices: Union[int, Sequence[int]], family: str,
                      num_stages: int = NUM_STAGES) -> tuple:
    """Normalise and validate ``out_indices`` (negative indices count from the end)."""
    if isinstance(out_indices, int) and not isinstance(out_indices, bool):
        out_indices = [out_indices]
    if not isinstance(out_indices, (list, tuple)) or not out_indices:
        raise TypeError(f'{family}: out_indices must be an int or a non-empty '
                        f'sequence of ints, got {out_indices!r}.')
    normalised = []
    for index in out_indices:
        if isinstance(index, bool) or not isinstance(index, int) \
                or not -num_stages <= index < num_stages:
            raise ValueError(
                f'{family}: out_indices entry {index!r} is out of range; valid indices '
                f'are 0..{num_stages - 1} (or -{num_stages}..-1 from the end).')
        normalised.append(index % num_stages)
    if len(set(normalised)) != len(normalised):
        raise ValueError(f'{family}: out_indices {tuple(out_indices)} repeats a stage.')
    return tuple(sorted(normalised))


def check_frozen_stages(frozen_stages: int, family: str,
                        num_stages: int = NUM_STAGES) -> int:
    """``-1`` freezes nothing, ``0`` the stem, ``i`` the stem and stages ``1..i``."""
    if isinstance(frozen_stages, bool) or not isinstance(frozen_stages, int) \
            or not -1 <= frozen_stages <= num_stages:
        raise ValueError(f'{family}: frozen_stages must be an int in -1..{num_stages} '
                         f'(-1: none, 0: stem, i: stem + first i stages), '
                         f'got {frozen_stages!r}.')
    return frozen_stages


def check_drop_path_rate(drop_path_rate, official: float, family: str) -> float:
    """``None`` -> the arch's official rate; otherwise a float in ``[0, 1)``."""
    if drop_path_rate is None:
        drop_path_rate = official
    if isinstance(drop_path_rate, bool) or not isinstance(drop_path_rate, (int, float)) \
            or not 0. <= drop_path_rate < 1.:
        raise ValueError(f'{family}: drop_path_rate must be None (the arch\'s official '
                         f'rate, here {official}) or a float in [0, 1), '
                         f'got {drop_path_rate!r}.')
    return float(drop_path_rate)


def check_flag(value, name: str, family: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f'{family}: {name} must be True or False, got {value!r}.')
    return value


def iter_blocks(module: nn.Module):
    """The modules a stem or stage runs in order (a single module runs as one block)."""
    return iter(module) if hasattr(module, '__iter__') else iter((module, ))


def run_blocks(blocks: Iterable[nn.Module], x: Tensor, with_cp: bool) -> Tensor:
    """Run ``blocks`` in order; with ``with_cp`` each one is recomputed in backward
    instead of keeping its activations (``torch.utils.checkpoint``, non-reentrant, with
    the RNG state preserved so drop path / Gumbel noise are replayed exactly)."""
    for block in blocks:
        if with_cp and block.training and torch.is_grad_enabled() and (
                x.requires_grad or any(p.requires_grad for p in block.parameters())):
            x = cp.checkpoint(block, x, use_reentrant=False)
        else:
            x = block(x)
    return x


def check_input(x, in_channels: int, family: str) -> None:
    """Raise an error naming the problem if ``x`` is not ``(B, in_channels, H, W)``, so a
    grey-scale or RGBA tensor into an RGB backbone is reported as such instead of as a
    conv weight-shape error deep inside the stem."""
    if not isinstance(x, Tensor):
        raise TypeError(f'{family}: expected a tensor of shape (B, C, H, W), got '
                        f'{type(x).__name__}.')
    if x.dim() != 4:
        raise ValueError(f'{family}: expected a 4-d input (B, C, H, W), got shape '
                         f'{tuple(x.shape)}.')
    if in_channels > 0 and x.shape[1] != in_channels:
        raise ValueError(
            f'{family}: expected {in_channels} input channels, got {x.shape[1]} (input '
            f'shape {tuple(x.shape)}). Convert the images (e.g. grey -> RGB), or build '
            f'the backbone with in_channels={x.shape[1]}.')


class SelectedOutputs:
    """``channels`` / ``strides`` of the selected outputs, read from the per-stage
    ``out_channels`` / ``out_strides`` and ``out_indices`` (shared by every backbone)."""

    @property
    def channels(self) -> list:
        """Channels of the selected outputs, in ``out_indices`` order."""
        return [self.out_channels[i] for i in self.out_indices]

    @property
    def strides(self) -> list:
        """Strides of the selected outputs, in ``out_indices`` order."""
        return [self.out_strides[i] for i in self.out_indices]


class MMHadBackbone(SelectedOutputs, BaseModule):
    """Base class: ``self.stem`` + ``self.stages`` (a ``nn.ModuleList`` of four stages).

    A family sets the class attributes ``arch_settings`` (named variants),
    ``arch_required_keys`` (keys a custom arch dict must have) and ``arch_defaults``
    (values an arch may omit, including its official ``drop_path_rate``). Its
    ``__init__`` calls ``super().__init__(...)`` with the shared arguments, which
    resolves ``self.arch`` and ``self.drop_path_rate``; builds ``self.stem``,
    ``self.stages``, ``self.out_channels`` and ``self.out_strides`` (one entry per
    stage); then calls :meth:`_post_init`. The forward is shared: a family overrides
    :meth:`_forward_stem` / :meth:`_format_output` where its tensors need a layout change.
    """

    arch_settings: Dict[str, dict] = {}
    arch_required_keys: tuple = ()
    arch_defaults: dict = {}
    num_stages: int = NUM_STAGES
    # Memory layout the stages run in. NHWC ("channels_last") makes PyTorch's CPU
    # depthwise convolutions 1.5-3x faster (forward and backward, oneDNN) with the same
    # results up to float rounding. The outputs are contiguous NCHW again (forward):
    # mmcv ops with raw-pointer kernels read NCHW memory whatever the strides say, e.g.
    # RoIAlign of every two-stage detector returned other values for an NHWC tensor.
    memory_format = torch.channels_last

    stem: nn.Module
    stages: nn.ModuleList
    out_channels: list
    out_strides: list

    def __init__(self,
                 arch: Union[str, dict],
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 drop_path_rate: Optional[float] = None,
                 with_cp: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        family = type(self).__name__
        self.deploy = False
        self.arch = resolve_arch(arch, self.arch_settings, self.arch_required_keys,
                                 family, defaults={'drop_path_rate': 0.,
                                                   **self.arch_defaults})
        self.out_indices = check_out_indices(out_indices, family, self.num_stages)
        self.frozen_stages = check_frozen_stages(frozen_stages, family, self.num_stages)
        self.norm_eval = check_flag(norm_eval, 'norm_eval', family)
        self.with_cp = check_flag(with_cp, 'with_cp', family)
        self.drop_path_rate = check_drop_path_rate(
            drop_path_rate, self.arch['drop_path_rate'], family)

    def _post_init(self):
        family = type(self).__name__
        for name in ('out_channels', 'out_strides'):
            values = getattr(self, name, None)
            if values is None or len(values) != len(self.stages):
                raise RuntimeError(f'{family} must set {name} (one entry per stage) '
                                   f'before _post_init().')
        self.out_channels = list(self.out_channels)
        self.out_strides = list(self.out_strides)
        self._freeze_stages()

    # ------------------------------------------------------------------ weights
    def init_weights(self):
        """mmengine's initialisation, except that a ``Pretrained`` entry of ``init_cfg``
        also accepts an official checkpoint as its repository saves it (converted on
        load, :func:`mmhad.utils.pretrained.load_pretrained`)."""
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        pretrained = [c for c in cfgs if isinstance(c, dict) and c.get('type') == 'Pretrained']
        if not pretrained:
            return super().init_weights()
        from mmengine.model.weight_init import update_init_info

        from mmhad.utils.pretrained import load_pretrained
        original = self.init_cfg
        self.init_cfg = [c for c in cfgs if c not in pretrained] or None
        try:
            super().init_weights()  # the other initialisers, then the children
        finally:
            self.init_cfg = original
        cfg = {k: v for k, v in pretrained[-1].items() if k != 'type'}
        load_pretrained(self, **cfg)
        if hasattr(self, '_params_init_info'):
            update_init_info(self, init_info=f'Pretrained: load from {cfg["checkpoint"]}')

    # ------------------------------------------------------------------ forward
    def forward(self, x: Tensor) -> tuple:
        self._check_input(x)
        x = self._forward_stem(x.contiguous(memory_format=self.memory_format))
        outs = []
        for i in range(self.out_indices[-1] + 1):  # later stages feed no output
            x = run_blocks(iter_blocks(self.stages[i]), x, self.with_cp)
            if i in self.out_indices:  # contiguous NCHW: see memory_format
                outs.append(self._format_output(i, x).contiguous())
        return tuple(outs)

    def _forward_stem(self, x: Tensor) -> Tensor:
        return run_blocks(iter_blocks(self.stem), x, self.with_cp)

    def _format_output(self, stage: int, x: Tensor) -> Tensor:
        """The NCHW output of stage ``stage`` given its internal tensor ``x``."""
        return x

    def _check_input(self, x) -> None:
        expected = getattr(self, '_in_channels', None)
        if expected is None:
            conv = next((m for m in self.stem.modules() if isinstance(m, nn.Conv2d)), None)
            expected = self._in_channels = conv.in_channels if conv is not None else -1
        check_input(x, expected, type(self).__name__)

    # ------------------------------------------------------------------ freezing
    def _frozen_modules(self):
        if self.frozen_stages >= 0:
            yield self.stem
        for i in range(self.frozen_stages):
            yield self.stages[i]
        if self.frozen_stages == self.num_stages and getattr(self, 'final_norm', False):
            yield self.norm  # the pre-head norm belongs to the last stage

    def _freeze_stages(self):
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def switch_to_deploy(self):
        """The inference form (:func:`switch_to_deploy`): in place, idempotent."""
        return switch_to_deploy(self)

    def train(self, mode: bool = True):
        refuse_training_if_deployed(self, mode)
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):  # LN/GN keep no running stats
                    module.eval()
        return self
