"""Every quickstart config under ``configs/demo/`` builds and takes a training step on
generated scenes: finite losses, and every loss term sends gradient to the backbone (a
head cut off from the backbone's features, or a config typo, fails here rather than
after a user's 10-minute run). Whether a demo *learns* is measured in the README and
tested for the detection quickstart in ``tests/tools/test_demo_learns.py``."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMOS = sorted(glob.glob(osp.join(REPO, 'configs', 'demo', '*.py')))

pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    from mmhad.utils.demo_data import make_demo_data
    root = tmp_path_factory.mktemp('demo')
    make_demo_data(str(root / 'data' / 'demo'), num_train=2, num_val=1, size=96, seed=0,
                   progress=False)
    return root


def test_there_are_three_quickstarts():
    assert [osp.basename(p) for p in DEMOS] == [
        'deeplabv3_emo1m_demo.py', 'mask-rcnn_hadaptive-net-s_demo.py',
        'ssdlite_emo1m_demo.py']


@pytest.mark.parametrize('path', DEMOS, ids=[osp.basename(p)[:-3] for p in DEMOS])
def test_demo_config_takes_a_training_step(path, demo_root, monkeypatch):
    import mmhad  # noqa: F401  (registers the backbones)
    monkeypatch.chdir(demo_root)  # the configs read data/demo/ relative to the cwd
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    from mmengine.registry import DATASETS, MODELS
    dataset_cfg = cfg.train_dataloader.dataset
    while 'dataset' in dataset_cfg:  # RepeatDataset / wrappers
        dataset_cfg = dataset_cfg.dataset
    dataset = DATASETS.build(dataset_cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    data = model.data_preprocessor(pseudo_collate([dataset[0], dataset[1]]), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    terms = {k: sum(v) if isinstance(v, (list, tuple)) else v
             for k, v in losses.items() if 'loss' in k}  # mmseg: decode.loss_ce
    assert terms, losses
    for name, value in terms.items():
        assert torch.isfinite(value), (name, value)
        model.zero_grad()
        value.backward(retain_graph=True)
        grad = sum(float(p.grad.abs().sum()) for p in model.backbone.parameters()
                   if p.grad is not None)
        assert grad > 0, f'{name} sends no gradient to the backbone'
