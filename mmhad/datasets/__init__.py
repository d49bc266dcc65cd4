"""Data transforms that official recipes need and the OpenMMLab 2.0 libraries lack."""
from .transforms import AlignResize

__all__ = ['AlignResize']
