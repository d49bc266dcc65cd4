"""The contract every mmhad backbone shares.

``arch`` resolution, ``out_indices`` / ``frozen_stages`` validation, stage freezing and
``norm_eval`` live here once, so the three families behave the same way, the way
mmpretrain's backbones do (``mmpretrain/models/backbones/mobilenet_v3.py``).
"""
from copy import deepcopy
from typing import Dict, Iterable, Sequence, Union

from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

NUM_STAGES = 4
OUT_STRIDES = (4, 8, 16, 32)


def resolve_arch(arch: Union[str, dict], arch_settings: Dict[str, dict],
                 required_keys: Iterable[str], family: str) -> dict:
    """Return a copy of the arch dict named by ``arch`` (or ``arch`` itself, checked)."""
    if isinstance(arch, str):
        key = arch.lower()
        if key not in arch_settings:
            raise ValueError(
                f'{family}: unknown arch {arch!r}. Valid names: '
                f'{sorted(arch_settings)}; or pass a dict with keys '
                f'{sorted(required_keys)}.')
        return deepcopy(arch_settings[key])
    if not isinstance(arch, dict):
        raise TypeError(f'{family}: arch must be a name from '
                        f'{sorted(arch_settings)} or a dict, got {type(arch).__name__}.')
    missing = set(required_keys) - set(arch)
    if missing:
        raise ValueError(f'{family}: arch dict is missing keys {sorted(missing)}; '
                         f'a full arch dict needs {sorted(required_keys)}.')
    return deepcopy(arch)


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
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    if not isinstance(out_indices, (list, tuple)) or not out_indices:
        raise TypeError(f'{family}: out_indices must be an int or a non-empty '
                        f'sequence of ints, got {out_indices!r}.')
    normalised = []
    for index in out_indices:
        if not isinstance(index, int) or not -num_stages <= index < num_stages:
            raise ValueError(
                f'{family}: out_indices entry {index!r} is out of range; valid stage '
                f'indices are 0..{num_stages - 1} (strides {OUT_STRIDES[:num_stages]}).')
        normalised.append(index % num_stages)
    if len(set(normalised)) != len(normalised):
        raise ValueError(f'{family}: out_indices {tuple(out_indices)} repeats a stage.')
    return tuple(sorted(normalised))


def check_frozen_stages(frozen_stages: int, family: str,
                        num_stages: int = NUM_STAGES) -> int:
    """``-1`` freezes nothing, ``0`` the stem, ``i`` the stem and stages ``1..i``."""
    if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= num_stages:
        raise ValueError(f'{family}: frozen_stages must be an int in -1..{num_stages} '
                         f'(-1: none, 0: stem, i: stem + first i stages), '
                         f'got {frozen_stages!r}.')
    return frozen_stages


class MMHadBackbone(BaseModule):
    """Base class: stem + ``self.stages`` (a ``nn.ModuleList`` of four stages).

    Subclasses build ``self.stem``, ``self.stages`` and set ``self.out_channels`` (the
    channel count of each stage, so configs and tests read it instead of typing it),
    then call :meth:`_post_init` once the modules exist.
    """

    stem: nn.Module
    stages: nn.ModuleList
    out_channels: list

    def __init__(self, out_indices, frozen_stages, norm_eval, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        family = type(self).__name__
        self.out_indices = check_out_indices(out_indices, family)
        self.frozen_stages = check_frozen_stages(frozen_stages, family)
        self.norm_eval = norm_eval

    @property
    def channels(self) -> list:
        """Channels of the selected outputs, in ``out_indices`` order."""
        return [self.out_channels[i] for i in self.out_indices]

    def _post_init(self):
        self._freeze_stages()

    def _check_input(self, x) -> None:
        """Raise a ValueError naming the problem if ``x`` is not ``(B, C_in, H, W)``.

        ``C_in`` is the ``in_channels`` the backbone was built with (read from the stem's
        first conv), so a grey-scale or RGBA tensor into an RGB backbone is reported as
        such instead of as a conv weight-shape error deep inside the stem.
        """
        expected = getattr(self, '_in_channels', None)
        if expected is None:
            conv = next((m for m in self.stem.modules() if isinstance(m, nn.Conv2d)), None)
            expected = self._in_channels = conv.in_channels if conv is not None else -1
        family = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f'{family}: expected a tensor of shape (B, C, H, W), got '
                            f'{type(x).__name__}.')
        if x.dim() != 4:
            raise ValueError(f'{family}: expected a 4-d input (B, C, H, W), got shape '
                             f'{tuple(x.shape)}.')
        if expected > 0 and x.shape[1] != expected:
            raise ValueError(
                f'{family}: expected {expected} input channels, got {x.shape[1]} (input '
                f'shape {tuple(x.shape)}). Convert the images (e.g. grey -> RGB), or build '
                f'the backbone with in_channels={x.shape[1]}.')

    def _frozen_modules(self):
        if self.frozen_stages >= 0:
            yield self.stem
        for i in range(self.frozen_stages):
            yield self.stages[i]

    def _freeze_stages(self):
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):  # LN/GN keep no running stats
                    module.eval()
        return self
