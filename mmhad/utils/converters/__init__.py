"""Key rules that turn official checkpoints into mmhad / OpenMMLab checkpoints.

One module per family; the ``tools/model_converters`` scripts are thin wrappers, the
backbones' ``init_cfg=dict(type='Pretrained', ...)`` converts official files on load
(:func:`mmhad.utils.checkpoint.load_pretrained`) with the same functions, and the tests
import the rules from here. :data:`OFFICIAL_FORMATS` is the one list of layouts
recognised on load.
"""
from typing import Callable, Dict, NamedTuple, Optional

import torch

from .efficientmod import convert_efficientmod
from .emo import convert_emo


class OfficialFormat(NamedTuple):
    """A checkpoint layout of an official repository and how to convert it."""
    source: str          # the official repository
    backbone: str        # the mmhad backbone its weights belong to
    example_keys: str    # what its keys look like, for messages
    matches: Callable[[Dict[str, torch.Tensor]], bool]
    convert: Callable[[Dict[str, torch.Tensor]], Dict[str, torch.Tensor]]


OFFICIAL_FORMATS = (
    OfficialFormat(
        'zhangzjn/EMO', 'EMO', "'stage0.0.convs.0.0.weight', 'stage1.0.conv_local...'",
        lambda state: any(k.startswith('stage0.') for k in state)
        and any(k.startswith('stage1.') for k in state),
        convert_emo),
    OfficialFormat(
        'ma-xu/EfficientMod', 'EfficientMod', "'patch_embed.proj.weight', 'layers.0.blocks...'",
        lambda state: 'patch_embed.proj.weight' in state
        and any(k.startswith('layers.') for k in state),
        convert_efficientmod),
)


def detect_official_format(state: Dict[str, torch.Tensor]) -> Optional[OfficialFormat]:
    """The official layout ``state`` has, or None (e.g. an mmhad / mmpretrain checkpoint)."""
    return next((fmt for fmt in OFFICIAL_FORMATS if fmt.matches(state)), None)


__all__ = ['OFFICIAL_FORMATS', 'OfficialFormat', 'convert_efficientmod', 'convert_emo',
           'detect_official_format']
