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
