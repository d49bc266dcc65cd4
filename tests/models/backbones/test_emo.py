"""EMO backbone: structure, contract, and exactness against the official model.

Exactness uses ``tests/data/emo_official.json`` (official key names/shapes and logits of
the official model with seeded weights; see ``tests/data/README.md``).
"""
import copy
import functools
import json
import math
import warnings
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

import mmhad  # noqa: F401  (registers EMO)
from mmhad.models.backbones.emo import EMO
from mmhad.models.layers.irmb import (EXPLICIT_ATTENTION_MAX_TOKENS,
                                      emo_grid_window_attention, emo_pad_to_window,
                                      emo_window_shape, iRMB)
from mmhad.utils.converters.emo import convert_emo
from tests.helpers import fill_state_dict_bn, seeded_input, state_dict_checksum

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = json.loads((ROOT / 'tests/data/emo_official.json').read_text())
ARCHS = ('1m', '2m', '5m', '6m')
# official EMO_1M .. EMO_6M with a 1000-class head (paper: 1.3 / 2.3 / 5.1 / 6.1 M)
OFFICIAL_PARAMS = {'1m': 1_361_168, '2m': 2_377_472, '5m': 5_108_848, '6m': 6_168_496}
OUT_CHANNELS = {'1m': [32, 48, 80, 168], '2m': [32, 48, 120, 200],
                '5m': [48, 72, 160, 288], '6m': [48, 72, 160, 320]}


pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


@functools.lru_cache(maxsize=None)
def _load_config(arch):
    return Config.fromfile(str(ROOT / f'configs/emo/emo-{arch}_8xb256-300e_in1k.py'))


def cls_config(arch):
    return copy.deepcopy(_load_config(arch))


def build_classifier(arch, **backbone_overrides):
    from mmpretrain.registry import MODELS
    cfg = cls_config(arch)
    cfg.model.backbone.update(backbone_overrides)
    return MODELS.build(cfg.model)


def num_params(model):
    return sum(p.numel() for p in model.parameters())


# --- param counts and configs -------------------------------------------------------

@pytest.mark.parametrize('arch', ARCHS)
def test_cls_config_builds_with_official_param_count(arch):
    model = build_classifier(arch)
    assert type(model).__name__ == 'ImageClassifier'
    assert isinstance(model.backbone, EMO)
    assert model.backbone.out_channels == OUT_CHANNELS[arch]
    assert model.backbone.out_indices == (3, ) and model.backbone.final_norm
    assert num_params(model) == OFFICIAL_PARAMS[arch] == FIXTURE['archs'][arch]['num_params']
    cfg = cls_config(arch)
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.optim_wrapper.optimizer.lr == 6e-3
    assert cfg.train_dataloader.batch_size == 256
    assert cfg.train_cfg.max_epochs == 300
    assert not any(t['type'] == 'RandomErasing' for t in cfg.train_pipeline)


def test_arch_defaults_follow_official_factories():
    model = EMO('1m')
    blocks = [b for stage in model.stages for b in stage]
    assert len(blocks) == 15
    assert blocks[-1].drop_path.drop_prob == pytest.approx(0.04036)
    assert EMO('5m').stages[-1][-1].drop_path.drop_prob == pytest.approx(0.05)
    for i, stage in enumerate(model.stages):
        first, rest = stage[0], list(stage)[1:]
        assert first.conv_local.conv.stride == (2, 2) and not first.use_attn
        assert not first.has_skip
        assert all(b.use_attn == (i >= 2) and b.has_skip for b in rest)
        assert first.conv_local.conv.kernel_size == ((3, 3) if i < 2 else (5, 5))
        norm = type(first.norm).__name__
        assert norm == ('BatchNorm2d' if i < 2 else 'LayerNorm2d')
        assert first.norm.eps == 1e-6
    # doubled expansion in the first block: 1m stage 4 = 80 * 3.5 * 2
    assert model.stages[3][0].conv_local.conv.in_channels == 560
    assert model.stages[3][1].num_heads == 8 and model.stages[3][1].attn_pre


# --- outputs --------------------------------------------------------------------------


def test_out_indices_select_and_final_norm():
    x = torch.randn(1, 3, 64, 64)
    torch.manual_seed(0)
    plain = EMO('1m', out_indices=(1, 3)).eval()
    normed = EMO('1m', out_indices=(-1, 1), final_norm=True).eval()
    missing, unexpected = normed.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ['norm.bias', 'norm.weight'] and not unexpected
    assert not hasattr(plain, 'norm')
    with torch.no_grad():
        a, b = plain(x), normed(x)
    assert normed.out_indices == (1, 3) and normed.channels == [48, 168]
    assert [t.shape[1] for t in a] == [48, 168]
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(b[1], normed.norm(a[1]))


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(arch=dict(depths=[1, 1, 1, 1])), ValueError, 'missing keys'),
    (dict(arch=dict(depths=[1, 1, 1], embed_dims=[8, 8, 8, 8], exp_ratios=[1] * 4,
                    head_dims=[8] * 4)), ValueError, r"arch\['depths'\] needs 4 values"),
    (dict(arch=dict(depths=[1, 1, 2, 2], embed_dims=[8, 8, 20, 20], exp_ratios=[1] * 4,
                    head_dims=[8] * 4)), ValueError, 'stage 3 uses attention.*not divisible'),
    (dict(window_size=[7, 7]), ValueError, 'window_size'),
    (dict(window_size=7.5), TypeError, 'window_size'),
])
def test_argument_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        EMO(**kwargs)


def test_custom_arch_dict():
    arch = dict(depths=[1, 1, 2, 2], embed_dims=[8, 16, 24, 32], exp_ratios=[2, 2, 2, 2],
                head_dims=[8, 8, 8, 16], stem_channels=8)
    model = EMO(arch, window_size=[0, 0, 3, None]).eval()
    outs = model(torch.randn(2, 3, 40, 50))
    assert [tuple(o.shape[1:]) for o in outs] == [(8, 10, 13), (16, 5, 7), (24, 3, 4),
                                                  (32, 2, 2)]


# --- training contract ------------------------------------------------------------------


# --- window attention -------------------------------------------------------------------

def reference_window_attention(q, k, v, num_heads, window):
    """Explicit per-window loop: window (a, b) holds rows a::n1 and columns b::n2, as the
    official ``rearrange('b c (h1 n1) (w1 n2) -> (b n1 n2) c h1 w1')``."""
    B, C, H, W = q.shape
    n1, n2 = H // window[0], W // window[1]
    out = torch.zeros(B, v.shape[1], H, W)
    for a in range(n1):
        for b in range(n2):
            def tokens(t):
                t = t[:, :, a::n1, b::n2]  # (B, c, wh, ww)
                return t.reshape(B, num_heads, t.shape[1] // num_heads, -1).transpose(2, 3)
            qq, kk, vv = tokens(q), tokens(k), tokens(v)
            attn = (qq @ kk.transpose(-2, -1) * qq.shape[-1] ** -0.5).softmax(-1)
            o = (attn @ vv).transpose(2, 3).reshape(B, v.shape[1], window[0], window[1])
            out[:, :, a::n1, b::n2] = o
    return out


@pytest.mark.parametrize('explicit_max_tokens', [0, 10 ** 6])  # fused kernel, matmuls
@pytest.mark.parametrize('value_channels', [12, 8, 4])  # wider, equal, narrower heads
@pytest.mark.parametrize('window_size', [3, 7, 0, None])
def test_grid_window_attention_matches_reference(window_size, value_channels,
                                                 explicit_max_tokens):
    torch.manual_seed(0)
    x = torch.randn(2, 8, 10, 13)
    window = emo_window_shape(window_size, 10, 13)
    x = emo_pad_to_window(x, window)
    if window_size:
        assert x.shape[-2:] == (math.ceil(10 / window_size) * window_size,
                                math.ceil(13 / window_size) * window_size)
    else:
        assert x.shape[-2:] == (10, 13)
    q, k = torch.randn_like(x), torch.randn_like(x)
    v = torch.randn(2, value_channels, *x.shape[-2:])
    ours = emo_grid_window_attention(q, k, v, 4, window,
                                     explicit_max_tokens=explicit_max_tokens)
    torch.testing.assert_close(ours, reference_window_attention(q, k, v, 4, window))
    with pytest.raises(ValueError, match='not a multiple of the window'):
        emo_grid_window_attention(q[..., :-1], k[..., :-1], v[..., :-1], 4, (3, 3))


def test_plain_attention_in_chunks_of_windows_matches_reference(monkeypatch):
    """Many windows: the deploy form's plain matmuls run in chunks of windows (here 3 a
    chunk, 4 heads x 9 x 9 scores each; 40 windows, so the last chunk is shorter) with the
    same result."""
    import mmhad.models.layers.irmb as irmb
    monkeypatch.setattr(irmb, 'PLAIN_ATTENTION_CHUNK_ELEMENTS', 3 * 4 * 9 * 9)
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 8, 12, 15) for _ in range(3))  # 2 x 4 x 5 = 40 windows
    ours = emo_grid_window_attention(q, k, v, 4, (3, 3), explicit_max_tokens=9)
    torch.testing.assert_close(ours, reference_window_attention(q, k, v, 4, (3, 3)))


def test_traced_deploy_form_keeps_the_batch_dynamic(monkeypatch):
    """A traced (or ONNX-exported) deploy form runs the fused op: the plain path's
    chunks are cut along batch x windows, which a trace would freeze at its batch size."""
    import mmhad.models.layers.irmb as irmb
    monkeypatch.setattr(irmb, 'PLAIN_ATTENTION_CHUNK_ELEMENTS', 2 * 4 * 9 * 9)
    torch.manual_seed(0)
    block = iRMB(16, 16, expand_ratio=2, use_attn=True, head_dim=4, window_size=3,
                 norm_cfg=dict(type='LN2d', eps=1e-6), act_cfg=dict(type='GELU')).eval()
    block.switch_to_deploy()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)  # shape checks, as meant
        traced = torch.jit.trace(block, torch.randn(1, 16, 9, 12))  # 12 windows
        x = torch.randn(3, 16, 9, 12)
        torch.testing.assert_close(traced(x), block(x), rtol=1e-5, atol=1e-6)


def attention_kernels(block, x):
    """The names of the attention kernels ``block(x)`` runs (torch profiler)."""
    with torch.inference_mode(), torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        block(x)
    return {e.key for e in prof.key_averages() if 'scaled_dot_product' in e.key}


@pytest.mark.parametrize('deploy', [False, True])
@pytest.mark.parametrize('attn_pre', [True, False])
def test_global_attention_runs_the_fused_kernel(attn_pre, deploy):
    """Memory linear in tokens: with global windows and an expanded value
    (attn_pre=False, value heads wider than q/k) the attention must still run SDPA's fused
    flash kernel, never the math fallback that builds the N x N matrix; in the deploy form
    too, whose explicit matmuls are for small windows only."""
    torch.manual_seed(0)
    block = iRMB(16, 16, expand_ratio=2, use_attn=True, head_dim=4, window_size=None,
                 attn_pre=attn_pre, norm_cfg=dict(type='LN2d', eps=1e-6),
                 act_cfg=dict(type='GELU')).eval()
    if deploy:
        block.switch_to_deploy()
    x = torch.randn(1, 16, 24, 20)  # 480 tokens in the one window
    assert 24 * 20 > EXPLICIT_ATTENTION_MAX_TOKENS
    kernels = attention_kernels(block, x)
    assert not any('math' in k for k in kernels), kernels
    assert any('flash' in k for k in kernels), kernels


@pytest.mark.parametrize('attn_pre', [True, False])
def test_deploy_form_attends_small_windows_with_plain_matmuls(attn_pre):
    """EMO's 7x7 windows (and the 10x10 of its detection configs) in the deploy form: no
    SDPA call, the same output as the training form's fused kernel."""
    torch.manual_seed(0)
    block = iRMB(16, 16, expand_ratio=2, use_attn=True, head_dim=4, window_size=10,
                 attn_pre=attn_pre, norm_cfg=dict(type='LN2d', eps=1e-6),
                 act_cfg=dict(type='GELU')).eval()
    x = torch.randn(2, 16, 23, 17)  # padded to 30 x 20: six 10 x 10 windows
    assert attention_kernels(block, x)  # the training form: SDPA
    with torch.no_grad():
        expected = block(x)
    block.switch_to_deploy()
    assert block.explicit_attention_max_tokens == EXPLICIT_ATTENTION_MAX_TOKENS >= 100
    assert not attention_kernels(block, x)
    with torch.no_grad():
        torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-6)
    block.switch_to_deploy()  # idempotent
    assert block.explicit_attention_max_tokens == EXPLICIT_ATTENTION_MAX_TOKENS


@pytest.mark.parametrize('attn_pre', [True, False])
def test_irmb_window_padding_matches_padded_reference(attn_pre):
    """Any input size: the block zero-pads the normalised map (padded tokens attend, as in
    the official code), attends in windows and crops."""
    torch.manual_seed(0)
    block = iRMB(16, 16, expand_ratio=2, use_attn=True, head_dim=4, window_size=4,
                 attn_pre=attn_pre, norm_cfg=dict(type='LN2d', eps=1e-6),
                 act_cfg=dict(type='GELU')).eval()
    x = torch.randn(1, 16, 9, 6)
    with torch.no_grad():
        out = block(x)
        xn = emo_pad_to_window(block.norm(x), (4, 4))  # 12 x 8
        q, k = block.qk(xn).chunk(2, 1)
        if attn_pre:
            y = block.v(reference_window_attention(q, k, xn, 4, (4, 4)))
        else:
            y = reference_window_attention(q, k, block.v(xn), 4, (4, 4))
        y = y[:, :, :9, :6]
        y = y + block.conv_local(y)
        expected = x + block.proj(y)
    assert out.shape == x.shape
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)


def test_window_size_per_stage():
    model = EMO('5m', window_size=[7, 7, 10, 16])
    assert {b.window_size for b in model.stages[2] if b.use_attn} == {10}
    assert {b.window_size for b in model.stages[3] if b.use_attn} == {16}
    assert all(b.window_size == 10 for b in EMO('5m', window_size=10).stages[3][1:])
    with torch.no_grad():
        outs = model.eval()(torch.randn(1, 3, 100, 90))
    assert tuple(outs[3].shape) == (1, 288, 4, 3)


# --- exactness against the official model ---------------------------------------------

@pytest.mark.parametrize('arch', ARCHS)
def test_every_official_key_maps_onto_the_classifier(arch):
    keys = FIXTURE['archs'][arch]['keys']
    official = {k: torch.zeros(s) for k, s in keys}
    converted = convert_emo(official)
    assert len(converted) == len(official)
    model = build_classifier(arch)
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in converted.items()} == own


@pytest.mark.parametrize('case', FIXTURE['cases'],
                         ids=[f"{c['arch']}-ws{c['window_size']}-"
                              f"{'x'.join(map(str, c['input_shape'][2:]))}"
                              for c in FIXTURE['cases']])
def test_converted_weights_reproduce_official_logits(case):
    keys = FIXTURE['archs'][case['arch']]['keys']
    official = fill_state_dict_bn(keys, case['weight_seed'])
    # rel 1e-6: float32 randn rounds differently on CPUs without AVX2 (~3e-7 measured);
    # a changed RNG moves the checksum by ~1e-3
    assert state_dict_checksum(official) == pytest.approx(case['weight_checksum'], rel=1e-6)
    model = build_classifier(case['arch'], window_size=case['window_size']).eval()
    model.load_state_dict(convert_emo(official), strict=True)
    with torch.no_grad():
        logits = model(seeded_input(case['input_shape'], case['input_seed']), mode='tensor')
    expected = torch.tensor(case['logits'])
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4 * expected.abs().max())


def test_pretrained_init_cfg_loads_converted_backbone(tmp_path):
    keys = FIXTURE['archs']['1m']['keys']
    converted = convert_emo(fill_state_dict_bn(keys, 0))
    path = tmp_path / 'emo-1m.pth'
    torch.save({'state_dict': converted}, path)
    model = EMO('1m', out_indices=(2, 3), init_cfg=dict(
        type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    model.init_weights()
    own = model.state_dict()
    for key, value in own.items():
        torch.testing.assert_close(value, converted['backbone.' + key])


def test_flops_match_paper_when_attention_is_counted():
    """Paper Tab. 7: EMO-1M 261M FLOPs at 224 (fvcore convention, attention matmuls
    included). mmengine's analyzer skips ``scaled_dot_product_attention``;
    ``mmhad.utils.flops`` counts it as ``QK^T + attn @ V`` like the official model's
    explicit matmuls."""
    from mmhad.utils.flops import count_model_flops

    model = build_classifier('1m').eval()
    with_attn = count_model_flops(model, (3, 224, 224))
    without_attn = count_model_flops(model, (3, 224, 224), count_attention=False)
    assert with_attn == pytest.approx(261e6, rel=5e-3)
    assert with_attn - without_attn == 12_369_952  # 9 attention blocks' matmuls
