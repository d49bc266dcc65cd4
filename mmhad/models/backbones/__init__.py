from .base import MMHadBackbone
from .efficientmod import EfficientMod
from .emo import EMO
from .hadaptive_net import HadaptiveNet

__all__ = ['MMHadBackbone', 'EfficientMod', 'EMO', 'HadaptiveNet']

try:  # the MobileNetV3 drop-in subclasses mmpretrain's backbone (optional dependency)
    from .hadamard_mobilenet_v3 import HadamardMobileNetV3
except ImportError:
    pass
else:
    __all__.append('HadamardMobileNetV3')
