"""mmhad: EMO, EfficientMod and Hadaptive-Net backbones for OpenMMLab 2.0.

``import mmhad`` (or ``custom_imports=dict(imports=['mmhad'])`` in a config) registers
every mmhad module in MMEngine's root ``MODELS`` registry, which mmdet, mmseg and
mmpretrain all inherit from.

The import checks package versions only: it works on mmcv-lite (no compiled ops) for
the backbones; only mmdet's detection parts (e.g. ``SSDHeadWithPredict``) need mmcv's
compiled ops and say so when built without them.
"""
from .version import __version__
from .utils.env import check_environment

check_environment()  # versions only; compiled mmcv ops: see utils/env.py

from . import datasets, engine, models, ops  # noqa: E402,F401

__all__ = ['__version__']
