"""``AlignResize``: the test-time resize of EfficientMod's official Semantic FPN recipe.

ma-xu/EfficientMod ``segmentation/`` (mmseg 0.x) registers ``AlignResize``: resize keeping
the aspect ratio so the image fits ``scale`` (mmcv's ``imrescale`` rule), then stretch each
side to the next multiple of ``size_divisor`` instead of padding, so a feature pyramid with
stride 32 sees every pixel without a padded border. mmseg 1.x has no such transform.
Registered in MMEngine's root ``TRANSFORMS`` (mmseg's registry inherits it).
"""
import math
from typing import Sequence

import mmcv
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS


@TRANSFORMS.register_module()
class AlignResize(BaseTransform):
    """Keep-ratio resize into ``scale``, then align both sides to ``size_divisor``.

    Required keys: ``img``. Modified: ``img``, ``img_shape``, and ``gt_seg_map`` when
    present (nearest neighbour). Added: ``scale_factor`` (w, h), ``keep_ratio``.

    Args:
        scale (tuple[int, int]): the long and short edge bounds, as mmseg's ``Resize``
            with ``keep_ratio=True`` (e.g. ``(2048, 512)``).
        size_divisor (int): both output sides become multiples of it. Default: 32.
        interpolation (str): for the image. Default: ``'bilinear'``.
    """

    def __init__(self, scale: Sequence[int], size_divisor: int = 32,
                 interpolation: str = 'bilinear'):
        if (not isinstance(scale, (tuple, list)) or len(scale) != 2
                or not all(isinstance(s, int) and s > 0 for s in scale)):
            raise ValueError(f'AlignResize: scale must be two positive ints such as '
                             f'(2048, 512), got {scale!r}.')
        if not isinstance(size_divisor, int) or size_divisor < 1:
            raise ValueError(f'AlignResize: size_divisor must be a positive int, got '
                             f'{size_divisor!r}.')
        self.scale = tuple(scale)
        self.size_divisor = size_divisor
        self.interpolation = interpolation

    def _aligned_size(self, h: int, w: int):
        new_w, new_h = mmcv.rescale_size((w, h), self.scale)
        d = self.size_divisor
        return int(math.ceil(new_w / d)) * d, int(math.ceil(new_h / d)) * d

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        new_w, new_h = self._aligned_size(h, w)
        results['img'] = mmcv.imresize(img, (new_w, new_h),
                                       interpolation=self.interpolation)
        results['img_shape'] = results['img'].shape[:2]
        results['scale_factor'] = (new_w / w, new_h / h)
        results['keep_ratio'] = True
        if results.get('gt_seg_map') is not None:
            results['gt_seg_map'] = mmcv.imresize(results['gt_seg_map'], (new_w, new_h),
                                                  interpolation='nearest')
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, '
                f'size_divisor={self.size_divisor}, interpolation={self.interpolation!r})')
