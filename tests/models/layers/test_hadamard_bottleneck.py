"""mmhad/models/layers/hadamard_bottleneck.py: the deploy form's compositions are exact for
every input size. PatchifyPair (two patchify convs, the first linear, as one) and
GhostDownsample compose where nothing is padded between the ops and run the ops
elsewhere; a Hadamard block's depth-wise conv takes over the constant scale of the ACH
product norm where there is one to take.

Compared in float64, so that no comparison can flip on float rounding."""
import pytest
import torch
from torch import nn

from mmhad.models.layers import PatchifyConvModule
from mmhad.models.layers.hadamard_bottleneck import PatchifyPair

pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


def _pair(k1=2, k2=2, norm=True, seed=0):
    """``(first, second)`` in eval mode with statistics no initialiser would give."""
    gen = torch.Generator().manual_seed(seed)
    bn = dict(type='BN') if norm else None
    first = PatchifyConvModule(3, 6, k1, norm_cfg=bn, act_cfg=None,
                               bias=not norm).double().eval()
    second = PatchifyConvModule(6, 5, k2, norm_cfg=bn,
                                act_cfg=dict(type='HSwish')).double().eval()
    with torch.no_grad():
        for p in list(first.parameters()) + list(second.parameters()):
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
        for m in (first, second):
            if norm:
                m.bn.running_mean.copy_(torch.randn(m.bn.num_features, generator=gen))
                m.bn.running_var.copy_(torch.rand(m.bn.num_features, generator=gen) + .5)
    return first, second


# (H, W) -> composed? With k1 = k2 = 2: ceil(H / 2) and ceil(W / 2) both even.
SIZES_2x2 = [((8, 12), True), ((7, 11), True), ((5, 8), False), ((8, 6), False),
             ((1, 1), False), ((3, 3), True), ((67, 47), True), ((67, 45), False)]


@pytest.mark.parametrize('norm', [True, False], ids=['bn', 'bias'])
@pytest.mark.parametrize('size, composed', SIZES_2x2, ids=[str(s) for s, _ in SIZES_2x2])
def test_equals_the_two_convs(size, composed, norm):
    first, second = _pair(norm=norm)
    x = torch.randn(2, 3, *size, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = second(first(x))
        pair = PatchifyPair(first, second)
        calls = []
        pair.first.register_forward_hook(lambda *args: calls.append(1))
        out = pair(x)
    assert pair.conv.kernel_size == (4, 4) and pair.conv.stride == (4, 4)
    assert out.shape == reference.shape == (2, 5, -(-size[0] // 4), -(-size[1] // 4))
    assert (out - reference).abs().max() <= 1e-12 * reference.abs().max()
    assert bool(calls) is not composed  # the two convs run only where composing is inexact


def test_other_strides():
    """k1 = 2, k2 = 3: a 6x6 stride-6 conv, composed where ceil(H / 2) % 3 == 0."""
    first, second = _pair(k1=2, k2=3)
    x = torch.randn(1, 3, 11, 18, dtype=torch.float64)  # ceil: 6 and 9
    with torch.no_grad():
        reference = second(first(x))
        pair = PatchifyPair(first, second)
        assert pair.conv.kernel_size == (6, 6)
        assert torch.allclose(pair(x), reference, rtol=1e-12, atol=1e-12)


def test_refuses_what_it_cannot_compose():
    first, second = _pair()
    with_act = PatchifyConvModule(3, 6, 2, act_cfg=dict(type='ReLU'))
    same_conv = nn.Sequential()  # not a patchify conv
    group_norm = PatchifyConvModule(3, 6, 2, norm_cfg=dict(type='GN', num_groups=2),
                                    act_cfg=None)
    assert PatchifyPair.composable(first, second)
    assert not PatchifyPair.composable(with_act, second)  # an activation between them
    assert not PatchifyPair.composable(first, same_conv)
    assert not PatchifyPair.composable(group_norm, second)  # GN does not fold
    assert not PatchifyPair.composable(second, first)  # 5 channels into 3
    act_first = PatchifyConvModule(6, 5, 2, act_cfg=dict(type='ReLU'),
                                   order=('act', 'conv', 'norm'))
    assert not PatchifyPair.composable(first, act_first)  # the activation comes first
    with pytest.raises(ValueError, match='the first without activation'):
        PatchifyPair(with_act, second)


def _randomise(module, seed=0):
    """Float64, eval mode, parameters and BN statistics no initialiser would give."""
    gen = torch.Generator().manual_seed(seed)
    module = module.double().eval()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5)
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + .5)
    return module


# (H, W) of the block input -> composed? With a 2x2 stride-2 conv: both sides even.
GHOST_SIZES = [((8, 12), True), ((2, 2), True), ((7, 12), False), ((8, 9), False),
               ((1, 1), False)]


@pytest.mark.parametrize('size, composed', GHOST_SIZES,
                         ids=[str(s) for s, _ in GHOST_SIZES])
def test_ghost_downsample_equals_the_block(size, composed):
    from mmhad.models.layers import AdaptiveBottleneck, GhostDownsample
    block = _randomise(AdaptiveBottleneck(6, 10, 'ghost', 2.0, kernel_size=2, stride=2))
    x = torch.randn(2, 6, *size, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = block(x)
        block.switch_to_deploy()
        calls = []
        block.expand.cheap_operation.register_forward_hook(lambda *args: calls.append(1))
        out = block(x)
    assert isinstance(block.expand, GhostDownsample)
    assert isinstance(block.dwconv, nn.Identity)
    assert out.shape == reference.shape
    assert (out - reference).abs().max() <= 1e-12 * reference.abs().max()
    assert bool(calls) is not composed  # the cheap conv runs only where composing is inexact


@pytest.mark.parametrize('cheap_kernel, stride, size', [(5, 2, (8, 10)), (3, 3, (9, 12)),
                                                        (1, 2, (6, 4))])
def test_ghost_downsample_other_kernels(cheap_kernel, stride, size):
    from mmhad.models.layers import GhostDownsample, GhostModule
    ghost = GhostModule(5, 12, cheap_kernel=cheap_kernel)
    dwconv = PatchifyConvModule(12, 12, stride, groups=12, norm_cfg=dict(type='BN'),
                                act_cfg=dict(type='HSwish'))
    ghost, dwconv = _randomise(ghost), _randomise(dwconv, seed=1)
    x = torch.randn(1, 5, *size, dtype=torch.float64)
    with torch.no_grad():
        reference = dwconv(ghost(x))
        fused = GhostDownsample(ghost, dwconv)
        assert fused.dw_b.kernel_size == (stride + cheap_kernel - 1, ) * 2
        out = fused(x)
    assert (out - reference).abs().max() <= 1e-12 * reference.abs().max()


def test_ghost_downsample_refuses_what_it_cannot_compose():
    from mmhad.models.layers import AdaptiveBottleneck, GhostDownsample, GhostModule

    def depthwise(channels):
        return PatchifyConvModule(channels, channels, 2, groups=channels,
                                  norm_cfg=dict(type='BN'), act_cfg=dict(type='HSwish'))
    assert GhostDownsample.composable(GhostModule(4, 8), depthwise(8))
    assert not GhostDownsample.composable(GhostModule(4, 7), depthwise(7))  # map dropped
    assert not GhostDownsample.composable(GhostModule(4, 9, ratio=3), depthwise(9))
    assert not GhostDownsample.composable(  # not depth-wise
        GhostModule(4, 8), PatchifyConvModule(8, 8, 2, norm_cfg=dict(type='BN')))
    with pytest.raises(ValueError, match='GhostDownsample: needs a GhostModule'):
        GhostDownsample(GhostModule(4, 7), depthwise(7))
    # stride-1 Ghost blocks and Hadamard blocks keep their ops
    for block in (AdaptiveBottleneck(8, 8, 'ghost', 2.0, kernel_size=3),
                  AdaptiveBottleneck(8, 8, 'hadamard', 4, kernel_size=3)):
        expand = block.expand
        block.eval().switch_to_deploy()
        assert block.expand is expand


def _product_scale(ach):
    """The per-channel scale ``s`` of ACH's product norm ``s * act(p) + t``."""
    norm = ach.norm
    if isinstance(norm, nn.BatchNorm2d):
        return norm.weight / (norm.running_var + norm.eps).sqrt()
    return norm.weight.reshape(-1)  # DySoft


@pytest.mark.parametrize('norm', ['BN', 'DySoft'])
@pytest.mark.parametrize('size', [(6, 5), (1, 1), (9, 4)], ids=str)
def test_hadamard_block_dwconv_takes_the_product_scale(norm, size):
    """The constant scale of the ACH product norm moves into the depth-wise conv's
    weight (the products' channels only): exact for every size (padded zeros stay
    zeros)."""
    from mmhad.models.layers import AdaptiveBottleneck
    block = _randomise(AdaptiveBottleneck(8, 8, 'hadamard', 4, kernel_size=5,
                                          hadamard_norm=norm))
    x = torch.randn(2, 8, *size, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = block(x)
        weight, scale = block.dwconv.conv.weight.clone(), _product_scale(block.expand)
        block.switch_to_deploy()
        out = block(x)
        assert block.expand.deploy_scale is None  # handed over
        assert block.expand.fold_product_scale() is None  # once
        block.switch_to_deploy()  # idempotent
        again = block(x)
    conv_weight = block.dwconv.conv.weight
    assert torch.equal(conv_weight[:8], weight[:8])  # the 8 input maps: untouched
    torch.testing.assert_close(conv_weight[8:], weight[8:] * scale.view(-1, 1, 1, 1))
    assert (out - reference).abs().max() <= 1e-12 * reference.abs().max()
    assert torch.equal(again, out)


@pytest.mark.parametrize('norm', ['CrossHadaNorm', 'DySoft-zero', 'none'])
def test_hadamard_block_keeps_a_scale_it_cannot_hand_over(norm):
    """CrossHadaNorm's scale is per sample, a zero scale cannot be divided out and no
    norm has no scale: the depth-wise conv stays as it is, the outputs the same."""
    from mmhad.models.layers import AdaptiveBottleneck
    block = _randomise(AdaptiveBottleneck(8, 8, 'hadamard', 4, kernel_size=3,
                                          hadamard_norm=norm.split('-')[0]))
    if norm == 'DySoft-zero':
        with torch.no_grad():
            block.expand.norm.weight[0, 1] = 0
    x = torch.randn(2, 8, 5, 6, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = block(x)
        weight = block.dwconv.conv.weight.clone()
        block.switch_to_deploy()
        out = block(x)
    assert torch.equal(block.dwconv.conv.weight, weight)
    assert (out - reference).abs().max() <= 1e-12 * reference.abs().max()


def test_ach_hands_its_product_scale_over_once():
    from mmhad.models.layers.ach import ACH
    ach = _randomise(ACH(8, 4, 'DySoft'))
    assert ach.fold_product_scale() is None  # the training form keeps its norm
    scale = ach.norm.weight.reshape(-1).clone()
    ach.switch_to_deploy()
    torch.testing.assert_close(ach.fold_product_scale(), scale)
    assert ach.fold_product_scale() is None


def test_only_a_depthwise_conv_first_takes_a_scale():
    from mmcv.cnn import ConvModule

    from mmhad.models.layers.hadamard_bottleneck import _reads_per_channel
    bn = dict(type='BN')
    assert _reads_per_channel(ConvModule(6, 6, 3, padding=1, groups=6, norm_cfg=bn), 6)
    assert _reads_per_channel(PatchifyConvModule(6, 6, 2, groups=6, norm_cfg=bn), 6)
    assert not _reads_per_channel(ConvModule(6, 6, 3, padding=1, groups=6), 5)
    assert not _reads_per_channel(ConvModule(6, 6, 3, padding=1, groups=3), 6)
    # reflected (or zero) padding commutes with a per-channel scale
    assert _reads_per_channel(ConvModule(6, 6, 3, padding=1, groups=6,
                                         padding_mode='reflect'), 6)
    assert not _reads_per_channel(ConvModule(6, 6, 3, padding=1, groups=6, norm_cfg=bn,
                                             order=('norm', 'conv', 'act')), 6)
    assert not _reads_per_channel(nn.Identity(), 6)
