"""The quickstart learns for real: on a shorter schedule (tiny scenes, seeded), the demo
config's loss falls and its COCO bbox mAP rises above the untrained model's."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/demo/ssdlite_emo1m_demo.py')
SIZE = 160
EPOCHS = 90  # 180 iterations of 8 scenes


def short_schedule(work_dir, epochs):
    from mmhad.utils.data_check import prepare_data
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({
        'demo_data.num_train': 16, 'demo_data.num_val': 4, 'demo_data.size': 128,
        'work_dir': work_dir, 'train_cfg.max_epochs': epochs,
        'train_cfg.val_interval': epochs, 'train_dataloader.batch_size': 8,
        'train_dataloader.num_workers': 0, 'val_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.persistent_workers': False,
        'train_dataloader.dataset.dataset.pipeline.2.scale': (SIZE, SIZE),
        'val_dataloader.dataset.pipeline.1.scale': (SIZE, SIZE),
        'param_scheduler.1.T_max': epochs, 'param_scheduler.1.end': epochs,
        'default_hooks.checkpoint.interval': epochs, 'default_hooks.logger.interval': 1,
        'param_scheduler.0.end': 10,
    })
    # score what it was trained on: 16 scenes are too few to generalise in a minute
    cfg.val_dataloader.dataset.ann_file = 'annotations/instances_train.json'
    cfg.val_dataloader.dataset.data_prefix = dict(img='train/')
    cfg.val_evaluator.ann_file = cfg.val_dataloader.dataset.data_root + \
        'annotations/instances_train.json'
    prepare_data(cfg)
    return cfg


@pytest.mark.slow
def test_demo_loss_falls_and_map_beats_untrained(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # data/demo is relative to the working directory
    torch.manual_seed(0)
    untrained = Runner.from_cfg(short_schedule(str(tmp_path / 'untrained'), EPOCHS)).val()

    runner = Runner.from_cfg(short_schedule(str(tmp_path / 'trained'), EPOCHS))
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    trained = runner.val()

    first, last = losses[:4].mean(), losses[-4:].mean()
    assert last < 0.7 * first, (first, last)
    print('untrained / trained bbox mAP:', untrained['coco/bbox_mAP'],
          trained['coco/bbox_mAP'])
    assert trained['coco/bbox_mAP'] > untrained['coco/bbox_mAP'] + 0.05, \
        (untrained['coco/bbox_mAP'], trained['coco/bbox_mAP'])
