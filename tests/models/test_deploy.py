"""``mmhad.models.switch_to_deploy`` on whole models (``mmhad/models/deploy.py``): a
detector, a segmentor and a classifier of each family give the same raw outputs in
their deploy form (backbone folds + every neck / head Conv + BN fused). Backbones alone,
every arch: tests/models/backbones/test_deploy.py.

float64, so that no comparison can flip on rounding (ACH's top-k selection).
"""
import os.path as osp

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mmhad.models import switch_to_deploy
from mmhad.utils.config_model import build_model, load_model_config
from tests.models.backbones.test_deploy import randomise_norms

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = [
    'configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py',
    'configs/efficientmod/retinanet_efficientmod-xxs_fpn_8xb4-1x_coco.py',
    'configs/hadaptive_net/deeplabv3_hadaptive-net-s_8xb4-80k_ade20k-512x512.py',
    'configs/hadaptive_net/hadaptive-net-s_1xb64-200e_cifar100.py',
]

pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


def raw_outputs(model, x):
    feats = model.extract_feat(x)
    if hasattr(model, 'bbox_head'):
        return [t for level in model.bbox_head(feats) for t in level]
    if hasattr(model, 'decode_head'):
        return [model.decode_head(feats)]
    return [model.head.pre_logits(feats)]


@pytest.mark.parametrize('config', CONFIGS, ids=[osp.basename(c) for c in CONFIGS])
def test_whole_model_deploy_form_gives_the_same_outputs(config):
    torch.manual_seed(0)
    model = build_model(load_model_config(osp.join(REPO, config)))
    randomise_norms(model)
    model = model.double().eval()
    x = torch.randn(1, 3, 96, 96, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = raw_outputs(model, x)
        assert switch_to_deploy(model) is model
        deployed = raw_outputs(model, x)
    assert not [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert not [name for name, m in model.named_modules() if m.training]
    assert len(reference) == len(deployed)
    for ref, out in zip(reference, deployed):
        err = (out - ref).abs().max() / ref.abs().max().clamp_min(1e-12)
        assert err < 1e-5, f'relative error {err:.2e}'
    with pytest.raises(RuntimeError, match='inference-only'):
        model.train()


@pytest.mark.parametrize('norm', ['BN', 'CrossHadaNorm', 'DySoft'])
def test_a_layer_given_alone_folds_itself(norm):
    """A layer with its own ``switch_to_deploy`` passed as the model (an ACH) runs that
    method too: CrossHadaNorm keeps the statistics of the BatchNorm fused away (it read
    them from the fused-away module before), the BN or DySoft product norm becomes
    constants."""
    from mmhad.models.layers.ach import ACH
    layer = ACH(16, 5, norm).double().eval()
    randomise_norms(layer)
    x = torch.randn(2, 16, 4, 3, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        reference = layer(x)
        assert switch_to_deploy(layer) is layer
        deployed = layer(x)
    assert not [m for m in layer.modules() if isinstance(m, _BatchNorm)]
    assert (layer.deploy_scale is not None) == (norm in ('BN', 'DySoft'))
    assert (layer.deploy_alpha is not None) == (norm == 'DySoft')
    torch.testing.assert_close(deployed, reference)
