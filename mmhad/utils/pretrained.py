"""What ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...)`` does for an mmhad
backbone: load the file (a path, or a URL through mmengine's loaders and their cache),
recognise an official checkpoint as its repository saves it and convert it on load with
the same functions as ``tools/model_converters`` (:data:`OFFICIAL_FORMATS`); load any
other checkpoint exactly as mmengine's ``PretrainedInit`` does.

    backbone=dict(type='EMO', arch='5m', init_cfg=dict(
        type='Pretrained', checkpoint='net.pth', prefix='backbone.'))  # zhangzjn/EMO

For an official checkpoint the converted ``backbone.*`` tensors are loaded whatever the
``prefix``; they must fit the backbone (same arch), or a :class:`CheckpointError` names
the missing and mismatched keys. A file that has no key under ``prefix`` and is no
official checkpoint gets one message saying what was expected.
"""
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.logging import print_log

from .checkpoint import CheckpointError, extract_state_dict, load_checkpoint_file
from .converters import OFFICIAL_FORMATS, OfficialFormat, detect_official_format

_BACKBONE = 'backbone.'
# classifier-only parts an official checkpoint carries that a dense backbone lacks
_CLASSIFIER_ONLY = ('norm.', )


def read_checkpoint(checkpoint: str, map_location='cpu') -> dict:
    """A local file with mmhad's clear errors, anything else (``http(s)://``,
    ``open-mmlab://``, ...) through mmengine's ``CheckpointLoader`` (URLs are cached in
    ``$TORCH_HOME/hub/checkpoints``)."""
    if '://' not in checkpoint:
        return load_checkpoint_file(checkpoint)
    from mmengine.runner.checkpoint import CheckpointLoader
    try:
        return CheckpointLoader.load_checkpoint(checkpoint, map_location=map_location)
    except Exception as exc:  # noqa: BLE001  (URL, HTTP and pickle errors)
        raise CheckpointError(f'checkpoint {checkpoint!r} could not be loaded: '
                              f'{type(exc).__name__}: {exc}') from exc


def _strip(state: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _check_official_fit(module: torch.nn.Module, state: Dict[str, torch.Tensor],
                        fmt: OfficialFormat, checkpoint: str) -> None:
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(k for k in set(state) - set(own)
                        if not k.startswith(_CLASSIFIER_ONLY))
    mismatched = sorted(f'{k}: checkpoint {tuple(state[k].shape)} vs model '
                        f'{tuple(own[k].shape)}'
                        for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or mismatched:
        raise CheckpointError(
            f'{checkpoint!r} is an official {fmt.source} checkpoint but does not fit this '
            f'{type(module).__name__} (another arch?): missing {missing[:5]}, unexpected '
            f'{unexpected[:5]}, shape mismatches {mismatched[:5]}.')


def load_pretrained(module: torch.nn.Module, checkpoint: str, prefix: Optional[str] = None,
                    map_location='cpu') -> Optional[OfficialFormat]:
    """Load ``checkpoint`` into ``module`` (see the module doc); return the official
    format it was converted from, or None for an mmhad / OpenMMLab checkpoint."""
    from mmengine.runner.checkpoint import load_state_dict
    family = type(module).__name__
    state = extract_state_dict(read_checkpoint(checkpoint, map_location))
    fmt = detect_official_format(state)
    if fmt is not None:
        if fmt.backbone != family:
            raise CheckpointError(
                f'{checkpoint!r} is an official {fmt.source} checkpoint of {fmt.backbone}, '
                f'not of {family}.')
        state = _strip(fmt.convert(state), _BACKBONE)
        _check_official_fit(module, state, fmt, checkpoint)
        print_log(f'load {family} from the official {fmt.source} checkpoint {checkpoint} '
                  f'(converted on load)', logger='current')
    elif prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'
        stripped = _strip(state, prefix)
        if not stripped:
            official = '; '.join(f'{f.source} ({f.backbone}: keys like {f.example_keys})'
                                 for f in OFFICIAL_FORMATS)
            raise CheckpointError(
                f'{family}: {osp.basename(checkpoint)!r} has no weights under prefix '
                f'{prefix!r} and is not an official checkpoint. Expected an mmhad / '
                f'OpenMMLab checkpoint with {prefix!r} keys, or an official one: '
                f'{official}. Its first keys: {sorted(state)[:5]}.')
        state = stripped
        print_log(f'load {prefix} in model from: {checkpoint}', logger='current')
    load_state_dict(module, state, strict=False, logger='current')
    return fmt
