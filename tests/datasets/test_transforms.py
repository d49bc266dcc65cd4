"""AlignResize: EfficientMod's official Semantic FPN test-time resize."""
import numpy as np
import pytest

import mmhad  # noqa: F401  (registers AlignResize)
from mmhad.datasets import AlignResize


@pytest.mark.parametrize('hw,expected', [
    ((683, 512), (704, 512)),    # fits already (x1): height 683 stretched to 704
    ((375, 500), (512, 704)),    # x1.3653: 512 x 682.7 -> 512 x 683 -> aligned 704
    ((100, 1000), (224, 2048)),  # long side bound: x2.048 -> 204.8 x 2048 -> 224 x 2048
])
def test_keep_ratio_resize_then_align_to_32(hw, expected):
    img = np.random.default_rng(0).integers(0, 255, (*hw, 3), dtype=np.uint8)
    seg = np.zeros(hw, np.uint8)
    out = AlignResize(scale=(2048, 512), size_divisor=32)(dict(img=img, gt_seg_map=seg))
    assert out['img'].shape[:2] == expected and out['img_shape'] == expected
    assert out['gt_seg_map'].shape == expected
    assert all(s % 32 == 0 for s in expected)
    h, w = hw
    assert out['scale_factor'] == pytest.approx((expected[1] / w, expected[0] / h))


def test_builds_from_an_mmseg_config():
    from mmseg.registry import TRANSFORMS
    t = TRANSFORMS.build(dict(type='AlignResize', scale=(2048, 512), size_divisor=32))
    assert isinstance(t, AlignResize)


@pytest.mark.parametrize('kwargs,match', [
    (dict(scale=512), 'scale must be two positive ints'),
    (dict(scale=(2048, 0)), 'scale must be two positive ints'),
    (dict(scale=(2048, 512), size_divisor=0), 'size_divisor must be a positive int'),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AlignResize(**kwargs)
