"""``switch_to_deploy()`` (``mmhad/models/backbones/base.py``) on every arch of every
registered backbone: the inference form gives the eval-mode outputs of the training form,
has no BatchNorm or layer scale left, is idempotent and refuses training.

Compared in float64 so that the comparison cannot flip on float rounding (ACH selects
channels with top-k: in float32 a near-tie could select differently after folding).
"""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mmhad.models.layers.ach import DySoft
from tests.helpers import registered_backbones

BACKBONES = registered_backbones()
CASES = [(name, arch) for name, cls in sorted(BACKBONES.items())
         for arch in cls.arch_settings]

pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


def randomise_norms(model, seed=0):
    """Statistics and affine parameters no initialiser would give, so folding is tested."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                if m.affine:
                    m.weight.copy_(1 + 0.2 * torch.randn(m.num_features, generator=gen))
                    m.bias.copy_(0.2 * torch.randn(m.num_features, generator=gen))
            if isinstance(m, DySoft):  # ACH's product norm in Hadaptive-Net
                m.alpha.copy_(0.3 + 0.4 * torch.rand(1, generator=gen))
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))
        for name, p in model.named_parameters():
            if name.endswith('gamma'):  # layer scales
                p.copy_(0.5 + torch.rand(p.shape, generator=gen))


@pytest.mark.parametrize('name, arch', CASES, ids=[f'{n}-{a}' for n, a in CASES])
def test_deploy_form_equals_training_form(name, arch):
    model = BACKBONES[name](arch=arch)
    n = len(model.out_strides)
    model = BACKBONES[name](arch=arch, out_indices=tuple(range(n)))
    randomise_norms(model)
    model = model.double().eval()
    x = torch.randn(2, 3, 67, 45, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = model(x)
        assert model.switch_to_deploy() is model
        deployed = model(x)
    assert model.deploy
    for ref, out in zip(reference, deployed):
        err = (out - ref).abs().max() / ref.abs().max()
        assert err < 1e-5, f'relative error {err:.2e}'
    leftovers = [type(m).__name__ for m in model.modules() if isinstance(m, _BatchNorm)]
    assert not leftovers, f'BatchNorms left after switch_to_deploy: {leftovers}'
    assert not any(n.endswith('gamma') for n, _ in model.named_parameters())
    assert not any(p.requires_grad for p in model.parameters())
    # idempotent
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.switch_to_deploy()
    assert state.keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    # inference only
    model.eval()
    with pytest.raises(RuntimeError, match='inference-only'):
        model.train()


@pytest.mark.parametrize('arch, downsampling_ghosts', [('s', 3), ('m', 3), ('l', 4)])
def test_hadaptive_net_compositions(arch, downsampling_ghosts):
    """Hadaptive-Net's deploy form runs its linear 2x2 stem and stage 1's first 2x2 conv as
    one 4x4 stride-4 conv (PatchifyPair) and each downsampling Ghost block's depth-wise
    conv from the intrinsic maps (GhostDownsample). Sizes where both compose (64x96),
    where only the stem does (67x47: 34 x 24 stem rows / columns, odd stage inputs) and
    where neither does (67x45: 23 stem columns) all give the eval-mode outputs of the
    training form."""
    from mmhad.models.layers import GhostDownsample, PatchifyPair
    model = BACKBONES['HadaptiveNet'](arch=arch, out_indices=(0, 1, 2, 3))
    randomise_norms(model)
    model = model.double().eval()
    gen = torch.Generator().manual_seed(1)
    inputs = [torch.randn(1, 3, h, w, dtype=torch.float64, generator=gen)
              for h, w in ((64, 96), (67, 47), (67, 45))]
    with torch.no_grad():
        references = [model(x) for x in inputs]
        model.switch_to_deploy()
        outputs = [model(x) for x in inputs]
    assert isinstance(model.stem, PatchifyPair)
    assert model.stem.conv.kernel_size == (4, 4)
    assert isinstance(model.stages[0][0], torch.nn.Identity)
    assert sum(isinstance(m, GhostDownsample) for m in model.modules()) == \
        downsampling_ghosts
    for reference, output in zip(references, outputs):
        for ref, out in zip(reference, output):
            assert (out - ref).abs().max() < 1e-10 * ref.abs().max()


def test_hadaptive_net_stem_not_composed_after_a_same_conv():
    """A custom arch whose stage 1 starts with a 3x3 stride-2 ('same') conv keeps its stem:
    only two patchify convs compose."""
    arch = dict(stem_channels=8, layers=[[('conv', 8, 3, 2)], [('ghost', 8, 2.0, 2, 2)],
                                         [('ghost', 8, 2.0, 2, 2)], [('ghost', 8, 2.0, 2, 2)]],
                last_conv_channels=None)
    model = BACKBONES['HadaptiveNet'](arch=arch).double().eval()
    x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        reference = model(x)
        model.switch_to_deploy()
        output = model(x)
    assert type(model.stem).__name__ == 'PatchifyConvModule'
    for ref, out in zip(reference, output):
        assert (out - ref).abs().max() < 1e-10 * ref.abs().max()
