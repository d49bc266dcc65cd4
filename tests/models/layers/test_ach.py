"""The ACH layer: registry, widths, temperature, selection, norms, scorers, ONNX."""
import copy
import io
import pickle

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import mmhad  # noqa: F401  (registers ACH in the root MODELS)
from mmhad.models.layers.ach import (ACH, AdaptiveCrossHadamard, CrossHadaNorm, DyAlge,
                                     DySig, DySoft, DyT, ECAScorer)
from mmhad.ops import pair_indices
from mmhad.registry import MODELS

# Parameter counts of the public AdaptiveCrossHadamard(c1, cs, norm), produced OUTSIDE
# this repository: github.com/acelych/conductor at commit ed1dec1, modules/{block,misc,
# conv,module,nas}.py copied to /tmp with an empty cuda_modules/cdt_extensions.py, then
# ``sum(p.numel() for p in AdaptiveCrossHadamard(c1, cs, norm).parameters())`` (includes
# the non-trainable scalars tau / tau_adj). State-dict keys matched ours key for key, and
# with its state dict loaded our eval outputs were identical (train-mode values and
# gradients too, with ste='public' and the same RNG seed).
CONDUCTOR_PARAMS = [
    # (c1, cs, public norm class, our norm), count
    ((96, 16, 'DySoft', 'DySoft'), 9752),
    ((128, 24, 'BatchNorm2d', 'BN'), 17327),
    ((192, 36, 'DySoft', 'DySoft'), 38708),
    ((256, 36, 'BatchNorm2d', nn.BatchNorm2d), 67571),
    ((64, 8, 'Identity', 'none'), 4295),
    ((16, 5, 'DySig', 'DySig'), 332),
]
CONDUCTOR_KEYS = {'eva_net.conv.weight', 'fc.bias', 'fc.weight', 'hadamard_i', 'hadamard_j',
                  'norm_x.bias', 'norm_x.num_batches_tracked', 'norm_x.running_mean',
                  'norm_x.running_var', 'norm_x.weight', 'tau', 'tau_adj'}

NORMS = ['BN', 'CrossHadaNorm', 'DySoft', 'DySig', 'DyAlge', 'DyT', 'none', None,
         nn.BatchNorm2d, dict(type='CrossHadaNorm', stats='affine'), dict(type='DySoft')]


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def _randomise(layer, seed=0):
    """Non-trivial BN statistics / norm parameters so eval-mode checks mean something."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in layer.named_buffers():
            if name.endswith('running_mean'):
                t.copy_(torch.randn(t.shape, generator=g) * 0.3)
            elif name.endswith('running_var'):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
        for name, p in layer.named_parameters():
            if name.startswith('norm.') or name.startswith('norm_x.'):
                p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return layer


@pytest.mark.parametrize('args,expected', CONDUCTOR_PARAMS)
def test_param_count_and_keys_match_public_code(args, expected):
    c1, cs, _, norm = args
    layer = ACH(c1, cs, norm)
    assert n_params(layer) == expected
    assert CONDUCTOR_KEYS <= set(layer.state_dict())
    assert layer.c1 == c1 and layer.cs == cs
    assert layer.cs_expand == cs * (cs - 1) // 2 and layer.ce == c1 + layer.cs_expand


@pytest.mark.parametrize('library', ['root', 'mmdet', 'mmpretrain'])
def test_builds_from_registries(library):
    if library == 'root':
        registry = MODELS
    else:
        registry = pytest.importorskip(f'{library}.registry').MODELS
    layer = registry.build(dict(type='ACH', c1=16, cs=5, norm='CrossHadaNorm'))
    assert isinstance(layer, AdaptiveCrossHadamard)
    assert layer(torch.randn(2, 16, 4, 4)).shape == (2, 26, 4, 4)


@pytest.mark.parametrize('training', [True, False])
def test_output_width(training):
    x = torch.randn(2, 16, 5, 3)
    layer = ACH(16, 6).train(training)
    assert layer(x).shape == (2, 16 + 15, 5, 3)
    exact = ACH(16, 6, 'DySoft', out_channels=27).train(training)
    assert (exact.cs, exact.cs_expand, exact.ce) == (6, 11, 27)
    assert exact(x).shape == (2, 27, 5, 3)
    derived = ACH(16, None, 'CrossHadaNorm', out_channels=30).train(training)
    assert derived.cs == 6 and derived.cs_expand == 14   # 5*4/2 = 10 < 14 <= 15
    assert derived(x).shape == (2, 30, 5, 3)
    assert ACH(16, 1)(x).shape == (2, 16, 5, 3)
    # the first channels are exactly X = BN(conv(x))
    torch.testing.assert_close(exact(x)[:, :16], exact.norm_x(exact.fc(x)))
    with pytest.raises(ValueError):
        ACH(16, 6, out_channels=40)
    with pytest.raises(ValueError):
        ACH(16, 17)


def test_temperature_adapts_in_training_only():
    torch.manual_seed(0)
    layer = ACH(16, 5, 'BN')
    x = torch.randn(4, 16, 6, 6)
    taus, adjs = [], []
    for step in range(6):
        layer(x * (1 + step)).square().mean().backward()
        layer.zero_grad(set_to_none=True)            # like mmengine's OptimWrapper
        taus.append(float(layer.tau))
        adjs.append(float(layer.tau_adj))
    assert taus[0] == 4.0 and adjs[0] == 0.0         # nothing recorded before a backward
    assert all(a > 0 for a in adjs[1:])              # gradient norms were recorded
    assert len(set(taus)) > 1 and min(taus) < 4.0    # tau moved (and stayed clamped <= 4)
    assert all(0.01 <= t <= 4.0 for t in taus)
    # each step scales tau by 1 +- tau_alpha (or hits the clamp)
    for a, b in zip(taus[1:], taus[2:]):
        assert b == pytest.approx(min(a * 1.005, 4.0), rel=1e-6) or \
            b == pytest.approx(a * 0.995, rel=1e-6)
    layer.eval()
    frozen = float(layer.tau)
    with torch.no_grad():
        layer(x)
    assert float(layer.tau) == frozen
    fixed = ACH(16, 5, adapt_tau=False, tau=2.0)
    for _ in range(3):
        fixed(x).sum().backward()
    assert float(fixed.tau) == 2.0


def test_temperature_hook_survives_deepcopy_and_pickle():
    layer = ACH(8, 4, 'DySoft', scorer='fc')
    x = torch.randn(2, 8, 3, 3)
    layer(x).sum().backward()
    clone = copy.deepcopy(layer)
    buf = io.BytesIO()
    torch.save(layer, buf)
    pickle.dumps(layer)
    for m in (clone, layer):
        for _ in range(3):
            m(x).sum().backward()
        assert float(m.tau_adj) > 0


def test_eval_is_deterministic_topk_without_noise():
    layer = _randomise(ACH(24, 6, 'CrossHadaNorm')).eval()
    x = torch.randn(3, 24, 5, 5)
    with torch.no_grad():
        a, b = layer(x), layer(x)
        assert torch.equal(a, b)
        idx, weight = layer.select(layer.norm_x(layer.fc(x)))
    assert weight is None
    xs = layer.norm_x(layer.fc(x))
    expected = layer.eva_net(xs).flatten(1).topk(6, dim=1).indices
    assert torch.equal(idx, expected)
    # training samples with Gumbel noise: the selection varies across draws
    layer.train()
    sels = {tuple(layer.select(xs)[0][0].tolist()) for _ in range(20)}
    assert len(sels) > 1


@pytest.mark.parametrize('norm', ['BN', 'DySoft', 'CrossHadaNorm', 'none'])
def test_train_forward_equals_eval_forward_without_noise(norm, monkeypatch):
    """With the Gumbel noise removed and the same statistics, training == inference."""
    layer = _randomise(ACH(20, 6, norm))
    x = torch.randn(2, 20, 4, 4)
    with torch.no_grad():
        ref = layer.eval()(x)
    monkeypatch.setattr(torch.nn.functional, 'gumbel_softmax',
                        lambda logits, tau=1.0, **kw: (logits / tau).softmax(-1))
    layer.train()
    for m in layer.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()                                   # same statistics as inference
    out = layer(x.requires_grad_())
    torch.testing.assert_close(out, ref)
    out.sum().backward()                               # gradients flow through the ST path
    assert layer.eva_net.conv.weight.grad is not None


@pytest.mark.parametrize('norm', NORMS)
@pytest.mark.parametrize('scorer', ['eca', 'fc'])
def test_norm_options_match_unfused_composition(norm, scorer):
    """Each norm option: fused layer output == products normalised by the norm module."""
    layer = _randomise(ACH(12, 5, norm, scorer=scorer)).eval()
    x = torch.randn(2, 12, 3, 4)
    with torch.no_grad():
        out = layer(x)
        xs = layer.norm_x(layer.fc(x))
        idx = layer.eva_net(xs).flatten(1).topk(5, dim=1).indices
        z = torch.stack([xs[b, idx[b]] for b in range(2)])
        ii, jj = pair_indices(5)
        prod = z[:, ii] * z[:, jj]
        if isinstance(layer.norm, CrossHadaNorm):
            normed = layer.norm(prod, layer.norm_x, idx)
        else:
            normed = layer.norm(prod)
    assert out.shape == (2, 22, 3, 4)
    torch.testing.assert_close(out, torch.cat([xs, normed], 1), rtol=1e-5, atol=1e-5)
    # training mode runs and back-propagates into every trainable parameter
    layer.train()
    layer(x).square().mean().backward()
    for name, p in layer.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_norm_types():
    assert isinstance(ACH(8, 4, 'BN').norm, nn.BatchNorm2d)
    assert isinstance(ACH(8, 4, 'CrossHadaNorm').norm, CrossHadaNorm)
    assert ACH(8, 4, 'CrossHadaNorm', chn_stats='affine').norm.stats == 'affine'
    assert isinstance(ACH(8, 4, 'DySoft').norm, DySoft)
    assert isinstance(ACH(8, 4, 'DySig').norm, DySig)
    assert isinstance(ACH(8, 4, 'DyAlge').norm, DyAlge)
    assert isinstance(ACH(8, 4, 'DyT').norm, DyT)
    assert isinstance(ACH(8, 4, None).norm, nn.Identity)
    assert isinstance(ACH(8, 4, nn.BatchNorm2d).norm, nn.BatchNorm2d)
    # CrossHadaNorm: one learnable zeta per product, statistics from norm_x
    assert n_params(ACH(8, 4, 'CrossHadaNorm')) == n_params(ACH(8, 4, 'none')) + 6
    with pytest.raises(ValueError):
        ACH(8, 4, 'LayerNorm')
    with pytest.raises(ValueError):
        ACH(8, 4, scorer='mlp')


def test_crosshadanorm_formula():
    """Eqs. 9-11 with the running statistics of the preceding BN."""
    bn = nn.BatchNorm2d(3)
    bn.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
    bn.running_var.copy_(torch.tensor([1.5, 0.5, 2.0]))
    chn = CrossHadaNorm(3)
    chn.zeta.data = torch.tensor([0.1, -0.2, 0.3])
    idx = torch.tensor([[2, 0, 1]])
    ii, jj = pair_indices(3)
    scale, shift = chn.affine(bn, idx, ii, jj)
    for k, (i, j) in enumerate([(0, 1), (0, 2), (1, 2)]):
        a, b = int(idx[0, i]), int(idx[0, j])
        ma, mb = bn.running_mean[a], bn.running_mean[b]
        va, vb = bn.running_var[a], bn.running_var[b]
        z = chn.zeta[k]
        mu = z + ma * mb
        var = va * vb + va * mb**2 + vb * ma**2 - 2 * ma * mb * z + z**2
        p = torch.tensor(1.7)
        assert float(p * scale[0, k] + shift[0, k]) == pytest.approx(
            float((p - mu) / torch.sqrt(var + 1e-5)), rel=1e-5)


def test_scorers():
    eca = ACH(32, 6, 'BN', scorer='eca', eca_kernel=3)
    fc = ACH(32, 6, 'BN', scorer='fc', reduction=4)
    assert eca.eva_net.conv.weight.numel() == 3
    assert n_params(fc) - n_params(eca) == (32 * 8 + 8) + (8 * 32 + 32) - 3
    x = torch.randn(2, 32, 4, 4)
    assert fc.eva_net(x).shape == (2, 32, 1, 1) and eca.eva_net(x).shape == (2, 32, 1, 1)
    for m in (eca, fc):
        m(x).sum().backward()
        m(x).sum().backward()
        assert float(m.tau_adj) > 0       # tau adaptation reads each scorer's last weight


def test_ste_public_negates_scorer_gradient():
    torch.manual_seed(3)
    paper = ACH(16, 4, 'none', adapt_tau=False)
    public = ACH(16, 4, 'none', adapt_tau=False, ste='public')
    public.load_state_dict(paper.state_dict())
    x = torch.randn(2, 16, 3, 3)
    grads = []
    for m in (paper, public):
        torch.manual_seed(7)
        m(x).square().sum().backward()
        grads.append(m.eva_net.conv.weight.grad.clone())
    torch.testing.assert_close(grads[0], -grads[1])
    torch.testing.assert_close(paper.fc.bias.grad.abs().sum() > 0, torch.tensor(True))


@pytest.mark.parametrize('norm', ['BN', 'CrossHadaNorm', 'DySoft'])
def test_onnx_export_parity(norm, tmp_path):
    onnx = pytest.importorskip('onnx')
    ort = pytest.importorskip('onnxruntime')
    layer = _randomise(ACH(16, 5, norm)).eval()
    x = torch.randn(2, 16, 6, 5)
    path = str(tmp_path / 'ach.onnx')
    axes = {0: 'b', 2: 'h', 3: 'w'}
    torch.onnx.export(layer, (x, ), path, input_names=['x'], output_names=['y'],
                      dynamic_axes={'x': axes, 'y': axes}, opset_version=17, dynamo=False)
    ops = [n.op_type for n in onnx.load(path).graph.node]
    # the op's symbolic (tests/ops/test_onnx_graph.py) and the ECA scorer as one Conv:
    # fc + scorer; no shape arithmetic, so batch and spatial size stay free
    assert {'TopK', 'GatherND', 'Concat'} <= set(ops), ops
    assert ops.count('Conv') == 2 and not {'Shape', 'Range', 'Transpose'} & set(ops), ops
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    gen = torch.Generator().manual_seed(0)
    for shape in ((2, 16, 6, 5), (3, 16, 4, 7)):
        x = torch.randn(shape, generator=gen)
        got = sess.run(None, {'x': x.numpy()})[0]
        with torch.no_grad():
            ref = layer(x)
        torch.testing.assert_close(torch.from_numpy(got), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('channels,k_size', [(16, 5), (3, 5), (9, 3), (32, 7)])
def test_eca_channel_matrix_is_its_conv1d(channels, k_size):
    """The banded matrix the ONNX export uses equals the 1-D conv across channels (zero
    padding at both ends included)."""
    scorer = ECAScorer(k_size)
    nn.init.normal_(scorer.conv.weight)
    y = torch.randn(4, channels, dtype=torch.float64)
    conv = F.conv1d(y.unsqueeze(1), scorer.conv.weight.double(),
                    padding=scorer.conv.padding).squeeze(1)
    torch.testing.assert_close(y @ scorer.channel_matrix(channels).double().T, conv)
