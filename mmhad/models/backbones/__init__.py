from .base import MMHadBackbone
from .efficientmod import EfficientMod
from .emo import EMO  # noqa: F401
from .hadaptive_net import HadamardMobileNetV3, HadaptiveNet  # noqa: F401

__all__ = ['MMHadBackbone', 'EfficientMod']
