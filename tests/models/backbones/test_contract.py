"""The backbone contract (``mmhad/models/backbones/base.py``), tested once for every
backbone mmhad registers and every arch in its ``arch_settings``.

What a config or a neck relies on: ``out_channels`` / ``out_strides`` describe the built
layout (checked against real outputs at an odd input size), ``channels`` / ``strides``
the selected ones; every bad argument gets a message naming the backbone and the
argument; ``frozen_stages`` and ``norm_eval`` stop gradients and running statistics;
``with_cp`` changes memory, not results; ``drop_path_rate=None`` is the arch's official
rate and drop path acts only in training; ``init_cfg=Pretrained`` honours ``prefix``.
Family-specific behaviour (official parameter counts, converters, attention windows)
lives in the family's own test file.
"""
import copy
import inspect
import math

import pytest
import torch
import torch.utils.checkpoint as torch_cp
from mmcv.cnn.bricks import DropPath
from mmengine.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from mmhad.models.backbones import base as backbone_base
from mmhad.models.backbones.base import MMHadBackbone
from tests.helpers import registered_backbones, smallest_arch

BACKBONES = registered_backbones()
CASES = [(name, arch) for name, cls in sorted(BACKBONES.items())
         for arch in cls.arch_settings]
ODD = (2, 3, 67, 45)  # batch, channels, odd height and width

pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


def test_every_family_is_registered():
    # a guard against the registry scan above silently finding nothing
    assert {'EMO', 'EfficientMod', 'HadaptiveNet', 'HadamardMobileNetV3'} <= set(BACKBONES)


def build(name, **kwargs):
    return MODELS.build(dict(type=name, **kwargs))


def num_outputs(name, arch):
    return len(build(name, arch=arch).out_strides)


def official_drop_path_rate(name, arch):
    setting = BACKBONES[name].arch_settings[arch]
    return setting.get('drop_path_rate', 0.) if isinstance(setting, dict) else 0.


def first_trainable_output(model, frozen_stages):
    """Index of the first output computed by a trainable module: MMHad backbones freeze
    the stem (no output) and stages ``0..k-1``; MobileNetV3 freezes layers ``0..k``."""
    return frozen_stages if isinstance(model, MMHadBackbone) else frozen_stages + 1


# ------------------------------------------------------------------ every arch
@pytest.mark.parametrize('name, arch', CASES, ids=[f'{n}-{a}' for n, a in CASES])
def test_out_channels_and_strides_describe_the_outputs(name, arch):
    n = num_outputs(name, arch)
    model = build(name, arch=arch, out_indices=tuple(range(n))).eval()
    assert len(model.out_channels) == len(model.out_strides) == n
    with torch.no_grad():
        outs = model(torch.rand(*ODD))
    assert len(outs) == n
    for out, channels, stride in zip(outs, model.out_channels, model.out_strides):
        assert tuple(out.shape) == (ODD[0], channels, math.ceil(ODD[2] / stride),
                                    math.ceil(ODD[3] / stride))
    last_two = build(name, arch=arch, out_indices=(-2, -1)).eval()
    with torch.no_grad():
        outs = last_two(torch.rand(*ODD))
    assert last_two.out_indices == (n - 2, n - 1)
    assert last_two.channels == model.out_channels[-2:] == [o.shape[1] for o in outs]
    assert last_two.strides == model.out_strides[-2:]


@pytest.mark.parametrize('name', sorted(BACKBONES))
@pytest.mark.parametrize('deploy', [False, True], ids=['train-form', 'deploy-form'])
def test_outputs_are_contiguous_nchw_for_mmcv_ops(name, deploy):
    """The stages may run in NHWC memory, but what a neck or head receives is contiguous
    NCHW: mmcv's RoIAlign (every two-stage detector's RoI extractor) reads NCHW memory
    whatever the strides, so an NHWC output gave Mask R-CNN other RoI features than the
    map holds, and its RoI heads learnt nothing."""
    from mmcv.ops import roi_align
    model = build(name, arch=smallest_arch(name)).eval()
    if deploy:
        model.switch_to_deploy()
    with torch.no_grad():
        outs = model(torch.rand(*ODD))
    rois = torch.tensor([[0., 1., 2., 30., 40.], [1., 8., 4., 60., 44.]])
    for i, out in enumerate(outs):
        assert out.is_contiguous(), (name, i, out.stride())
        stride = model.out_strides[model.out_indices[i]]
        pooled = roi_align(out, rois, (7, 7), 1. / stride, 0, 'avg', True)
        expected = roi_align(out.clone(memory_format=torch.contiguous_format), rois,
                             (7, 7), 1. / stride, 0, 'avg', True)
        assert torch.equal(pooled, expected), (name, i)


@pytest.mark.parametrize('name, arch', CASES, ids=[f'{n}-{a}' for n, a in CASES])
def test_drop_path_none_is_the_official_rate(name, arch):
    official = official_drop_path_rate(name, arch)
    model = build(name, arch=arch)
    assert model.drop_path_rate == official
    rates = [m.drop_prob for m in model.modules() if isinstance(m, DropPath)]
    assert max(rates, default=0.) == pytest.approx(official)


@pytest.mark.parametrize('name, arch', CASES, ids=[f'{n}-{a}' for n, a in CASES])
def test_with_cp_gives_the_same_outputs_and_gradients(name, arch, monkeypatch):
    calls = []
    real = torch_cp.checkpoint

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(backbone_base.cp, 'checkpoint', counting)
    n = num_outputs(name, arch)
    kwargs = dict(arch=arch, out_indices=tuple(range(n)), drop_path_rate=0.2)
    plain = build(name, **kwargs).train()
    ckpt = build(name, with_cp=True, **kwargs).train()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 64, 48)
    results = []
    for model in (plain, ckpt):
        calls.clear()
        torch.manual_seed(0)  # the same drop-path masks and Gumbel noise in both
        inp = x.clone().requires_grad_()
        outs = model(inp)
        sum((o * (i + 1)).mean() for i, o in enumerate(outs)).backward()
        grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        results.append((outs, inp.grad, grads, len(calls)))
    (outs_a, gin_a, grads_a, calls_a), (outs_b, gin_b, grads_b, calls_b) = results
    assert calls_a == 0 and calls_b > 0, 'with_cp must checkpoint (and only then)'
    for a, b in zip(outs_a, outs_b):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gin_a, gin_b, rtol=1e-4, atol=1e-6)
    assert len(grads_a) == len(grads_b) > 0
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------ every backbone
NAMES = sorted(BACKBONES)


@pytest.mark.parametrize('name', NAMES)
def test_unknown_arch_lists_valid_names(name):
    with pytest.raises(ValueError, match='unknown arch') as info:
        build(name, arch='huge')
    message = str(info.value)
    assert name in message and "'huge'" in message
    for arch in BACKBONES[name].arch_settings:
        assert repr(arch) in message, message


@pytest.mark.parametrize('name', NAMES)
def test_arch_of_wrong_type(name):
    with pytest.raises(TypeError, match=f'{name}: arch must be'):
        build(name, arch=['s'])


BAD_ARGUMENTS = [
    (dict(out_indices=(99, )), ValueError, 'out_indices entry 99 is out of range'),
    (dict(out_indices=(-99, )), ValueError, 'out_indices entry -99 is out of range'),
    (dict(out_indices=(1, 1)), ValueError, 'repeats a stage'),
    (dict(out_indices=()), TypeError, 'out_indices must be an int or a non-empty'),
    (dict(out_indices='all'), TypeError, 'out_indices must be an int or a non-empty'),
    (dict(frozen_stages=-2), ValueError, 'frozen_stages must be an int in -1'),
    (dict(frozen_stages=99), ValueError, 'frozen_stages must be an int in -1'),
    (dict(drop_path_rate=1.0), ValueError, r'drop_path_rate must be None \(the arch'),
    (dict(drop_path_rate=-0.1), ValueError, 'drop_path_rate must be None'),
    (dict(drop_path_rate='0.1'), ValueError, 'drop_path_rate must be None'),
    (dict(with_cp='yes'), TypeError, 'with_cp must be True or False'),
    (dict(norm_eval=1), TypeError, 'norm_eval must be True or False'),
]


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('kwargs, error, match', BAD_ARGUMENTS,
                         ids=[str(k) for k, _, _ in BAD_ARGUMENTS])
def test_bad_argument_names_backbone_and_argument(name, kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        build(name, arch=smallest_arch(name), **kwargs)
    assert str(info.value).startswith(f'{name}: ')


@pytest.mark.parametrize('name', NAMES)
def test_bad_input_names_expected_and_got(name):
    model = build(name, arch=smallest_arch(name)).eval()
    with torch.no_grad():
        with pytest.raises(ValueError, match='expected 3 input channels, got 1'):
            model(torch.rand(1, 1, 64, 64))  # a grey-scale image
        with pytest.raises(ValueError, match='expected 3 input channels, got 4'):
            model(torch.rand(2, 4, 64, 64))  # RGBA
        with pytest.raises(ValueError, match='4-d input'):
            model(torch.rand(3, 64, 64))  # a single image without the batch axis
        with pytest.raises(TypeError, match='expected a tensor'):
            model([torch.rand(1, 3, 64, 64)])


@pytest.mark.parametrize('name', [n for n in NAMES if 'in_channels' in
                                  inspect.signature(BACKBONES[n]).parameters])
def test_other_channel_counts_work_when_built_for_them(name):
    model = build(name, arch=smallest_arch(name), in_channels=1).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 1, 64, 64))
    assert len(outs) == len(model.out_indices)
    with pytest.raises(ValueError, match='expected 1 input channels, got 3'):
        model(torch.rand(1, 3, 64, 64))


def _bn_stats(model):
    return {name: m.running_mean.clone() for name, m in model.named_modules()
            if isinstance(m, _BatchNorm) and m.running_mean is not None}


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('frozen_stages', [0, 1, 2])
def test_frozen_stages_stop_gradients_and_statistics(name, frozen_stages):
    arch = smallest_arch(name)
    n = num_outputs(name, arch)
    model = build(name, arch=arch, out_indices=tuple(range(n)),
                  frozen_stages=frozen_stages).train()
    before = _bn_stats(model)
    outs = model(torch.rand(2, 3, 64, 48))
    first = first_trainable_output(model, frozen_stages)
    # outputs of frozen parts carry no gradient; the next one does
    assert all(not o.requires_grad for o in outs[:first])
    assert outs[first].requires_grad
    sum(o.mean() for o in outs[first:]).backward()
    frozen = {p for p in model.parameters() if not p.requires_grad}
    assert frozen, 'frozen_stages froze nothing'
    assert all(p.grad is None for p in frozen)
    assert any(p.grad is not None for p in model.parameters() if p.requires_grad)
    # frozen BatchNorms are in eval mode: their running statistics do not move
    after = _bn_stats(model)
    for module_name, module in model.named_modules():
        if module_name in before and module.weight is not None \
                and not module.weight.requires_grad:
            assert not module.training
            torch.testing.assert_close(after[module_name], before[module_name],
                                       rtol=0, atol=0)


@pytest.mark.parametrize('name', NAMES)
def test_norm_eval_keeps_every_batchnorm_in_eval_mode(name):
    model = build(name, arch=smallest_arch(name), norm_eval=True).train()
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert all(not m.training for m in norms)
    before = _bn_stats(model)
    model(torch.rand(2, 3, 64, 48))
    for key, value in _bn_stats(model).items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    assert build(name, arch=smallest_arch(name)).train().training


@pytest.mark.parametrize('name', NAMES)
def test_drop_path_is_linear_and_acts_only_in_training(name):
    model = build(name, arch=smallest_arch(name), drop_path_rate=0.5)
    paths = [m for m in model.modules() if isinstance(m, DropPath)]
    assert paths, f'{name} has no stochastic depth'
    rates = [m.drop_prob for m in paths]
    assert max(rates) == pytest.approx(0.5)
    assert rates == sorted(rates), 'drop path must grow with depth'
    changed = []

    def record(module, inputs, output):
        changed.append(not torch.equal(inputs[0], output))

    for m in paths:
        m.register_forward_hook(record)
    torch.manual_seed(0)
    with torch.no_grad():
        model.train()(torch.rand(4, 3, 64, 48))
        assert any(changed), 'drop path never dropped in training'
        changed.clear()
        model.eval()(torch.rand(4, 3, 64, 48))
        assert changed and not any(changed), 'drop path must be the identity in eval'


@pytest.mark.parametrize('name', NAMES)
def test_init_cfg_pretrained_with_prefix(name, tmp_path):
    arch = smallest_arch(name)
    source = build(name, arch=arch)
    for p in source.parameters():  # weights no initialiser would produce
        torch.nn.init.uniform_(p, -1, 1)
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['head.fc.weight'] = torch.zeros(2, 2)  # another module's weights are skipped
    path = tmp_path / 'model.pth'
    torch.save({'state_dict': state}, path)
    target = build(name, arch=arch, init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                                  prefix='backbone.'))
    target.init_weights()
    loaded = target.state_dict()
    for key, value in source.state_dict().items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)


def test_frozen_model_copies_stay_frozen():
    # deepcopy (EMA, the deploy form) keeps the contract's state
    for name in NAMES:
        model = build(name, arch=smallest_arch(name), frozen_stages=1)
        clone = copy.deepcopy(model).train()
        assert [p.requires_grad for p in clone.parameters()] == \
            [p.requires_grad for p in model.parameters()]
