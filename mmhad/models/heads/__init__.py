"""Heads and head fixes for the downstream libraries (registered only if installed)."""
try:
    import mmdet  # noqa: F401
except ImportError:  # mmhad's backbones work with mmpretrain/mmseg alone
    __all__ = []
else:
    from .ssd_head import SSDHeadWithPredict
    __all__ = ['SSDHeadWithPredict']
