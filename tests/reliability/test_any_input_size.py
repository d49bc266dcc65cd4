"""Any image size works for every backbone (property-based, hypothesis).

For every arch of every family and random (H, W) in 32..1024 (odd sizes included) and
batch 1..3, stage ``i`` returns ``ceil(H / stride_i) x ceil(W / stride_i)`` maps with the
advertised channels, all finite. Sizes are drawn from tiers so that large inputs are
rare and always come with batch 1; the extremes (32, 1023, 1024) are pinned as explicit
examples for the smallest arch of each family. Derandomised (no example database): every
run draws the same sizes, so CI's time and outcome do not vary between runs.
"""
import functools
import math

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mmengine.registry import MODELS

from tests.helpers import registered_backbones, smallest_arch

ARCHS = [(name, arch) for name, cls in sorted(registered_backbones().items())
         for arch in cls.arch_settings]
MAX_EXAMPLES = 10


pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


@functools.lru_cache(maxsize=None)
def backbone(family, arch):
    return MODELS.build(dict(type=family, arch=arch)).eval()


@st.composite
def image_shapes(draw):
    """(batch, H, W): mostly small, sometimes medium, rarely up to 1024 (then batch 1)."""
    def side():
        tier = draw(st.sampled_from('sssmml'))
        lo, hi = {'s': (32, 160), 'm': (161, 400), 'l': (401, 1024)}[tier]
        return draw(st.integers(lo, hi))

    h, w = side(), side()
    batch = 1 if h * w > 320 * 320 else draw(st.integers(1, 3))
    return batch, h, w


def check(family, arch, shape):
    batch, h, w = shape
    model = backbone(family, arch)
    strides = model.strides
    with torch.no_grad():
        outs = model(torch.randn(batch, 3, h, w))
    assert len(outs) == len(model.out_indices)
    for i, (out, stride) in zip(model.out_indices, zip(outs, strides)):
        expected = (batch, model.out_channels[i], math.ceil(h / stride),
                    math.ceil(w / stride))
        assert tuple(out.shape) == expected, (family, arch, shape, i)
        assert torch.isfinite(out).all(), (family, arch, shape, i)


@pytest.mark.parametrize('family, arch', ARCHS, ids=[f'{f}-{a}' for f, a in ARCHS])
def test_any_input_size(family, arch):
    extremes = arch == smallest_arch(family)

    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(shape=image_shapes())
    @example(shape=(3, 32, 32))
    @example(shape=(1, 33, 1023))
    def prop(shape):
        check(family, arch, shape)

    prop()
    if extremes:
        check(family, arch, (1, 1024, 1024))
        check(family, arch, (2, 97, 35))


def test_hadaptive_net_l_stride_64_and_max_stride_32():
    """The public Hadaptive-Net-L ends at stride 64; ``max_stride=32`` keeps 32."""
    assert backbone('HadaptiveNet', 'l').out_strides[-1] == 64
    model = MODELS.build(dict(type='HadaptiveNet', arch='l', max_stride=32)).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 99, 65))
    assert [tuple(o.shape[2:]) for o in outs] == [
        (math.ceil(99 / s), math.ceil(65 / s)) for s in (4, 8, 16, 32)]
    assert model.out_strides == [4, 8, 16, 32]
