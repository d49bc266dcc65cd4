"""mmhad registers into MMEngine's root registries.

mmdet, mmseg and mmpretrain's ``MODELS`` are children of ``mmengine.registry.MODELS``,
and a child falls back to its parent when a type is not found locally, so one
registration here makes ``type='EMO'`` buildable from all three libraries.
"""
from mmengine.registry import MODELS

__all__ = ['MODELS']
