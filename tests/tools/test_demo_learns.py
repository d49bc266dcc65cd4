"""The quickstart learns for real, robustly: on a shorter schedule (tiny scenes) the demo
config memorises its training scenes from two different seeds, each far above the
untrained model. Two seeds, a wide margin and a scored property (memorisation) that any
correct implementation has: the outcome cannot hinge on one machine's trajectory."""
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/demo/ssdlite_emo1m_demo.py')
SIZE = 160
EPOCHS = 90  # 180 iterations of 8 scenes


def short_schedule(work_dir, epochs, seed):
    from mmhad.utils.data_check import prepare_data
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({
        'demo_data.num_train': 16, 'demo_data.num_val': 4, 'demo_data.size': 128,
        'work_dir': work_dir, 'train_cfg.max_epochs': epochs,
        'train_cfg.val_interval': epochs, 'train_dataloader.batch_size': 8,
        'train_dataloader.num_workers': 0, 'val_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.persistent_workers': False,
        'default_hooks.checkpoint.interval': epochs, 'default_hooks.logger.interval': 1,
        'randomness.seed': seed,
        'train_dataloader.dataset.dataset.pipeline.2.scale': (SIZE, SIZE),
        'val_dataloader.dataset.pipeline.1.scale': (SIZE, SIZE),
    })
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=10),
        dict(type='CosineAnnealingLR', begin=0, T_max=epochs, end=epochs, by_epoch=True,
             eta_min=1e-5)]
    # score what it was trained on: 16 scenes are too few to generalise in a minute
    cfg.val_dataloader.dataset.ann_file = 'annotations/instances_train.json'
    cfg.val_dataloader.dataset.data_prefix = dict(img='train/')
    cfg.val_evaluator.ann_file = cfg.val_dataloader.dataset.data_root + \
        'annotations/instances_train.json'
    prepare_data(cfg)
    return cfg


@pytest.fixture(scope='module')
def untrained_map(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('untrained')
    cwd = os.getcwd()
    os.chdir(tmp)  # data/demo is relative to the working directory
    try:
        torch.manual_seed(0)
        return Runner.from_cfg(short_schedule(str(tmp / 'work'), EPOCHS, 0)).val()[
            'coco/bbox_mAP'], str(tmp)
    finally:
        os.chdir(cwd)


@pytest.mark.slow
@pytest.mark.parametrize('seed', [0, 1])
def test_demo_memorises_its_scenes_from_two_seeds(untrained_map, monkeypatch, seed):
    untrained, data_dir = untrained_map
    monkeypatch.chdir(data_dir)  # the scenes written for the untrained model
    runner = Runner.from_cfg(short_schedule(osp.join(data_dir, f'seed{seed}'), EPOCHS,
                                            seed))
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    trained = runner.val()['coco/bbox_mAP']
    first, last = losses[:4].mean(), losses[-4:].mean()
    print(f'seed {seed}: loss {first:.2f} -> {last:.2f}, bbox mAP untrained '
          f'{untrained:.3f} -> trained {trained:.3f}')
    assert last < 0.7 * first, (first, last)
    assert trained > untrained + 0.2, (untrained, trained)


def _backbone_to_head_gradient(neck_init=None, head_init=None):
    """Norm of the backbone's gradient over the head's, one loss step from a fresh
    initialisation of the demo model (neck / head ``init_cfg`` as given; None = the demo
    config's) on a fixed synthetic batch."""
    from mmengine.structures import InstanceData
    from mmdet.structures import DetDataSample

    from mmhad.utils.config_model import build_model, load_config
    cfg = load_config(CONFIG)
    if neck_init is not None:
        cfg.model.neck.init_cfg = neck_init
    if head_init is not None:
        cfg.model.bbox_head.init_cfg = head_init
    torch.manual_seed(0)
    model = build_model(cfg)
    model.init_weights()
    model.train()
    images = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(0)) * 255
    samples = []
    for _ in range(2):
        sample = DetDataSample(metainfo=dict(img_shape=(128, 128), pad_shape=(128, 128),
                                             batch_input_shape=(128, 128)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[20., 20., 70., 80.], [60., 50., 120., 110.]]),
            labels=torch.tensor([0, 2]))
        samples.append(sample)
    data = model.data_preprocessor(dict(inputs=list(images), data_samples=samples), True)
    losses = model(**data, mode='loss')
    sum(sum(v) if isinstance(v, list) else v for k, v in losses.items()
        if k.startswith('loss')).backward()

    def grad_norm(module):
        return torch.stack([p.grad.norm() for p in module.parameters()
                            if p.grad is not None]).norm()

    return float(grad_norm(model.backbone) / grad_norm(model.bbox_head))


def test_demo_init_lets_gradient_reach_the_backbone(one_thread):
    """From scratch, the official SSDLite init (head convs ~N(0, 0.001)) passes the
    backbone ~1/800 of the gradient the demo's init does (measured: norm 0.037 vs 30.7;
    relative to the head's gradient 0.028 vs 3.8):
    every run then sat on a plateau for hundreds of iterations and the demo's mAP swung
    with seeds. The demo config must keep gradient flowing into the backbone; the gap is
    two orders of magnitude, so the threshold cannot flip on rounding."""
    demo = _backbone_to_head_gradient()
    official = _backbone_to_head_gradient(
        neck_init=dict(type='TruncNormal', layer='Conv2d', std=0.03),
        head_init=dict(type='Normal', layer='Conv2d', std=0.001))
    assert demo > 0.5, demo
    assert official < 0.1 * demo, (official, demo)  # the failure mode this guards against
