from .ach import ACH, AdaptiveCrossHadamard, CrossHadaNorm  # noqa: F401
from .efficient_modulation import (EfficientModAttentionBlock, EfficientModBlock,  # noqa: F401
                                   MultiheadSelfAttention)
from .ghost import GhostModule  # noqa: F401
from .hadamard_bottleneck import (AdaptiveBottleneck, GhostDownsample,  # noqa: F401
                                  PatchifyConvModule, PatchifyPair)
from .irmb import MSPatchEmb, SqueezeExcite, iRMB  # noqa: F401
from .linear_gelu import LinearGELU  # noqa: F401
from .norm import LayerNorm2d

__all__ = ['LayerNorm2d', 'MultiheadSelfAttention']
