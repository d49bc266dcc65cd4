"""EfficientMod backbone, classifier configs and official-checkpoint converter."""
import json
import os.path as osp

import pytest
import torch

import mmhad  # noqa: F401  (registers EfficientMod)
from mmhad.models.backbones import EfficientMod
from mmhad.utils.checkpoint import CheckpointError, check_state_dict_matches
from mmhad.utils.converters.efficientmod import convert_efficientmod
from tests.helpers import fill_state_dict, seeded_input, state_dict_checksum

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
FIXTURE = osp.join(ROOT, 'tests', 'data', 'efficientmod_official.json')
CONFIGS = {arch: osp.join(ROOT, 'configs', 'efficientmod',
                          f'efficientmod-{arch.replace("_", "-")}_8xb256-310e_in1k.py')
           for arch in ('xxs', 'xs', 's', 's_conv')}
# Params of the official 1000-class models (ma-xu/EfficientMod factories).
OFFICIAL_PARAMS = dict(xxs=4_736_264, xs=6_627_544, s=12_897_184, s_conv=12_872_336)
# a tiny arch with both block kinds, for the training-behaviour tests
TINY = dict(embed_dims=[8, 16, 32, 64], depths=[1, 2, 2, 1], attn_depths=[0, 0, 1, 1],
            expand_ratios=[1, 3], num_heads=2)
OUT_CHANNELS = dict(xxs=[32, 64, 128, 256], xs=[32, 64, 144, 288],
                    s=[32, 64, 144, 312], s_conv=[40, 80, 160, 344])


@pytest.fixture(scope='module')
def official():
    with open(FIXTURE) as f:
        return json.load(f)


def build_classifier(arch):
    from mmhad.utils.config_model import build_model, load_model_config
    return build_model(load_model_config(CONFIGS[arch]))


def num_params(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- configs / params
@pytest.mark.parametrize('arch', list(CONFIGS))
def test_config_builds_with_official_params(arch, official):
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIGS[arch])
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports.imports == ['mmhad']
    assert cfg.model.backbone.type == 'EfficientMod'
    assert cfg.train_dataloader.batch_size == 256
    assert cfg.optim_wrapper.optimizer.lr == 4e-3
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.05
    assert cfg.train_cfg.max_epochs == 310  # 300 cosine + timm's 10 cool-down epochs
    assert cfg.model.backbone.drop_path_rate == (0.02 if arch in ('s', 's_conv') else 0.)
    model = build_classifier(arch)
    assert num_params(model) == OFFICIAL_PARAMS[arch] == official['num_params'][arch]
    assert model.backbone.out_channels == OUT_CHANNELS[arch]


# ---------------------------------------------------------------- dense outputs


def test_out_indices_subset_and_aliases():
    model = EfficientMod('S-Conv', out_indices=(-1, 1)).eval()
    assert model.out_indices == (1, 3)
    assert model.channels == [80, 344]
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 32, 32))
    assert [o.shape for o in outs] == [(2, 80, 4, 4), (2, 344, 1, 1)]
    assert all(o.is_contiguous() for o in outs)  # NCHW for the necks, not a view


@pytest.mark.parametrize('arch', ['xxs', 's_conv'])  # with and without attention blocks
def test_deploy_in_place_path_equals_the_graph_path(arch, monkeypatch):
    """Without autograd the deploy form multiplies / adds into its own fresh tensors
    (``may_overwrite``): the same elementwise operations on the same operands, so the
    outputs equal those of the same model with autograd on exactly, and the caller's
    input is left as it was. (LinearGELU's fused kernel, which runs only without
    autograd, is switched off for both: only the in-place ops differ.)"""
    from mmhad.models.layers import linear_gelu
    monkeypatch.setattr(linear_gelu, 'onednn_linear_pointwise', lambda: None)
    torch.manual_seed(0)
    model = EfficientMod(arch).eval()
    model.switch_to_deploy()
    assert all(m.in_place for m in model.modules() if hasattr(m, 'in_place'))
    x = seeded_input((2, 3, 64, 48), seed=1)
    x_before = x.clone()
    with torch.no_grad():
        in_place = model(x)
    assert torch.equal(x, x_before)
    out_of_place = model(x.requires_grad_())  # autograd records: no in-place op
    assert all(o.requires_grad for o in out_of_place)
    for a, b in zip(in_place, out_of_place):
        assert torch.equal(a, b.detach())


def test_training_form_leaves_hooked_tensors_alone():
    """The training form never overwrites an intermediate, also without autograd: a
    forward hook on an inner module keeps the tensor it saw (the block's residual sum
    is a new tensor)."""
    torch.manual_seed(0)
    model = EfficientMod('xxs', layer_scale_init_value=0.).eval()  # y = mod(...)
    block = model.stages[0].blocks[0]
    seen = []
    block.mod.register_forward_hook(lambda m, args, out: seen.append((args[0], out)))
    with torch.no_grad():
        model(seeded_input((1, 3, 32, 32), seed=2))
        (normed, out), = seen
        torch.testing.assert_close(out, block.mod(normed), rtol=0, atol=0)


def test_arch_dict_and_block_layout():
    model = EfficientMod(dict(TINY, depths=[1, 2, 3, 1]), out_indices=3)
    ratios = [b.mod.expand_ratio for b in model.stages[2].blocks[:3]]
    assert ratios == [1, 3, 1]
    assert type(model.stages[2].blocks[3]).__name__ == 'EfficientModAttentionBlock'
    # heads are max(C // heads, 32) wide, as the official Attention
    assert model.stages[3].blocks[1].attn.head_dims == 32
    assert model.stages[0].downsample is None
    model.init_weights()  # default: official init (trunc-normal linears, layer scale 1e-4)
    assert model.stages[3].blocks[1].attn.qkv.weight.std() < 0.03
    assert torch.all(model.stages[0].blocks[0].gamma == 1e-4)
    assert model(torch.randn(1, 3, 16, 16))[0].shape == (1, 64, 1, 1)


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(arch=dict(embed_dims=[8] * 4)), ValueError, 'missing keys'),
    (dict(arch=dict(embed_dims=[8] * 3, depths=[1] * 4, attn_depths=[0] * 4,
                    expand_ratios=[1])), ValueError, r"arch\['embed_dims'\] needs 4"),
    (dict(arch=dict(embed_dims=[8] * 4, depths=[1] * 4, attn_depths=[0] * 4,
                    expand_ratios=[1.5])), ValueError, 'expand_ratios'),
    (dict(norm_cfg=dict(type='BN')), ValueError, 'channels-last'),
])
def test_validation_messages(kwargs, error, match):
    with pytest.raises(error, match=match):
        EfficientMod(**kwargs)


# ---------------------------------------------------------------- training behaviour
def test_frozen_stages_4_freezes_the_final_norm():
    # the pre-head norm belongs to the last stage (the contract test covers the rest)
    model = EfficientMod('xxs', frozen_stages=3, final_norm=True).train()
    assert model.norm.training and all(p.requires_grad for p in model.norm.parameters())
    model = EfficientMod('xxs', frozen_stages=4, final_norm=True).train()
    assert not any(p.requires_grad for p in model.parameters())
    assert not model.norm.training


# ---------------------------------------------------------------- converter
@pytest.mark.parametrize('arch', list(OUT_CHANNELS))
def test_converter_maps_every_official_key(arch, official):
    keys = official['keys'][arch]
    state = {k: torch.empty(shape, device='meta') for k, shape in keys}
    converted = convert_efficientmod(state)
    assert len(converted) == len(keys)  # none dropped, none merged
    model = build_classifier(arch)
    check_state_dict_matches(model, converted)  # same key set, same shapes


def test_converter_rejects_unknown_keys(official):
    state = {k: torch.empty(s, device='meta') for k, s in official['keys']['xxs']}
    state['layers.0.blocks.0.mlp.extra.weight'] = torch.empty(1, device='meta')
    with pytest.raises(CheckpointError, match='no mapping'):
        convert_efficientmod(state)


def test_converted_logits_match_official(official):
    ref = official['logits']
    state = fill_state_dict(official['keys'][ref['arch']], ref['seed'])
    # rel 1e-6: float32 randn rounds differently on CPUs without AVX2 (~3e-7 measured);
    # a changed RNG moves the checksum by ~1e-3
    assert state_dict_checksum(state) == pytest.approx(ref['weights_checksum'], rel=1e-6), \
        'fill_state_dict no longer reproduces the fixture weights (torch RNG changed?)'
    model = build_classifier(ref['arch']).eval()
    model.load_state_dict(convert_efficientmod(state), strict=True)
    with torch.no_grad():
        logits = model(seeded_input(ref['input_shape'], ref['input_seed']), mode='tensor')[0]
    torch.testing.assert_close(logits, torch.tensor(ref['values']), atol=2e-4, rtol=1e-4)


def test_converter_script_and_pretrained_prefix(official, tmp_path):
    import importlib.util
    script = osp.join(ROOT, 'tools', 'model_converters', 'efficientmod_to_mmhad.py')
    spec = importlib.util.spec_from_file_location('efficientmod_to_mmhad', script)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    state = fill_state_dict(official['keys']['xxs'], 3)
    src, dst = tmp_path / 'official.pth', tmp_path / 'mmhad.pth'
    torch.save({'model': state, 'epoch': 3}, src)
    tool.main([str(src), str(dst)])
    # detection/segmentation use: the classifier checkpoint, backbone.* prefix
    backbone = EfficientMod('xxs', out_indices=(1, 2, 3), init_cfg=dict(
        type='Pretrained', checkpoint=str(dst), prefix='backbone.'))
    backbone.init_weights()
    torch.testing.assert_close(backbone.stages[3].downsample.conv.weight,
                               state['layers.2.downsample.proj.weight'])
    torch.testing.assert_close(backbone.stages[2].blocks[6].attn.qkv.weight,
                               state['layers.2.blocks.6.attn.qkv.weight'])
    torch.testing.assert_close(backbone.stages[0].blocks[1].mod.ctx.dwconv.bias,
                               state['layers.0.blocks.1.mlp.context_layer.context_list.0.bias'])

    with pytest.raises(SystemExit, match='not found'):
        tool.main([str(tmp_path / 'missing.pth'), str(dst)])


def test_classifier_train_step():
    """One loss + backward of the xxs recipe (mixup/cutmix, label smoothing) on 2 tiny
    images."""
    from mmpretrain.structures import DataSample
    model = build_classifier('xxs').train()
    data = dict(inputs=[torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8)
                        for _ in range(2)],
                data_samples=[DataSample().set_gt_label(i) for i in (3, 7)])
    data = model.data_preprocessor(data, training=True)
    losses = model(**data, mode='loss')
    losses['loss'].backward()
    assert torch.isfinite(losses['loss'])
    assert model.backbone.stages[0].blocks[0].gamma.grad is not None


@pytest.mark.parametrize('arch', list(OUT_CHANNELS))
def test_float32_deploy_form_with_the_fused_kernel(arch, monkeypatch):
    """float32 is where switch_to_deploy()'s LinearGELU runs oneDNN's fused kernel
    (test_deploy.py compares in float64, which takes the two-op path): the outputs stay
    those of the training form to float32 rounding (measured <= 5e-7 relative)."""
    from mmhad.models.layers import linear_gelu
    op = linear_gelu.onednn_linear_pointwise()
    if op is None:
        pytest.skip('this PyTorch build has no oneDNN linear_pointwise op')
    calls = []
    monkeypatch.setattr(linear_gelu, 'onednn_linear_pointwise',
                        lambda: (lambda *a: calls.append(1) or op(*a)))
    torch.manual_seed(0)
    model = EfficientMod(arch).eval()
    x = seeded_input((2, 3, 67, 45), seed=1)
    with torch.no_grad():
        reference = model(x)
        model.switch_to_deploy()
        deployed = model(x)
    assert calls  # the fused kernel ran
    for ref, out in zip(reference, deployed):
        err = ((out - ref).abs().max() / ref.abs().max()).item()
        assert err < 1e-5, f'relative error {err:.2e}'  # the bound; 20x margin


def test_deploy_form_keeps_downsampling_weights_in_the_layout_they_run_in():
    """The downsampling convs are fed a channels-last tensor's NCHW view: in the deploy
    form their weights are stored channels-last (no per-call re-layout), the stem's,
    fed the NCHW image, as before; a second switch changes nothing, and the float32
    outputs stay the training form's."""
    torch.manual_seed(0)
    model = EfficientMod('xxs').eval()
    x = seeded_input((1, 3, 64, 96), seed=2)
    with torch.no_grad():
        reference = model(x)
        model.switch_to_deploy()
        model.switch_to_deploy()
        deployed = model(x)
    channels_last = torch.channels_last
    downsampling = [stage.downsample.conv.weight for stage in model.stages[1:]]
    assert len(downsampling) == 3
    # a 3x3 weight with more than one input channel is in one layout or the other
    assert all(w.is_contiguous(memory_format=channels_last) and not w.is_contiguous()
               for w in downsampling)
    assert model.stem.conv.weight.is_contiguous()
    assert not model.stem.conv.weight.is_contiguous(memory_format=channels_last)
    for ref, out in zip(reference, deployed):
        err = ((out - ref).abs().max() / ref.abs().max()).item()
        assert err < 1e-5, f'relative error {err:.2e}'
