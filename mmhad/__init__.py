"""mmhad: EMO, EfficientMod and Hadaptive-Net backbones for OpenMMLab 2.0.

``import mmhad`` (or ``custom_imports=dict(imports=['mmhad'])`` in a config) registers
every mmhad module in MMEngine's root ``MODELS`` registry, which mmdet, mmseg and
mmpretrain all inherit from.
"""
from .version import __version__
from .utils.env import check_environment

check_environment()

from . import datasets, engine, models, ops  # noqa: E402,F401

__all__ = ['__version__']
