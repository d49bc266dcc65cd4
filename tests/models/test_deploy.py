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
    assert len(reference) == len(deployed)
    for ref, out in zip(reference, deployed):
        err = (out - ref).abs().max() / ref.abs().max().clamp_min(1e-12)
        assert err < 1e-5, f'relative error {err:.2e}'
    with pytest.raises(RuntimeError, match='inference-only'):
        model.train()
