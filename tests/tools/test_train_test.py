"""tools/train.py -> checkpoint -> --resume -> tools/test.py with the real COCO metric.

Runs the real CLI in subprocesses on tiny generated data (SSDLite-EMO-1M demo config).
"""
import glob
import json
import math
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/demo/ssdlite_emo1m_demo.py')
TINY = ['demo_data.num_train=4', 'demo_data.num_val=2', 'demo_data.size=64',
        'train_dataloader.batch_size=2', 'val_dataloader.batch_size=2',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0', 'test_dataloader.batch_size=2',
        'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=3',
        'default_hooks.logger.interval=1', 'train_cfg.val_interval=100']


def run_tool(tool, *args, cwd):
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', tool), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def losses(work_dir):
    values = []
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            values += [json.loads(line)['loss'] for line in f if '"loss"' in line]
    return values


@pytest.mark.slow
def test_train_resume_test_cycle(tmp_path):
    work = str(tmp_path / 'work')
    # the first epoch as mmhad saved it before its AdamW configs said fused=True
    run_tool('train.py', CONFIG, '--work-dir', work, '--cfg-options',
             'train_cfg.max_epochs=1', 'optim_wrapper.optimizer.fused=False', *TINY,
             cwd=str(tmp_path))
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    first = losses(work)
    assert len(first) == 2 and all(math.isfinite(v) for v in first)  # 2 iterations

    log = run_tool('train.py', CONFIG, '--work-dir', work, '--resume', '--cfg-options',
                   'train_cfg.max_epochs=2', *TINY, cwd=str(tmp_path))
    assert re.search(r'resumed epoch: 1, iter: 2', log), log[-2000:]
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))
    # the resumed run used the config's fused kernel (KeepOptimizerOptionsHook), not the
    # checkpoint's per-parameter loop
    assert 'fused: False -> True' in log, log[-2000:]
    saved = torch.load(osp.join(work, 'epoch_2.pth'), map_location='cpu',
                       weights_only=False)['optimizer']['param_groups']
    assert {group['fused'] for group in saved} == {True}

    out = run_tool('test.py', CONFIG, osp.join(work, 'epoch_2.pth'), '--work-dir',
                   str(tmp_path / 'test'), '--cfg-options', *TINY, cwd=str(tmp_path))
    match = re.search(r'coco/bbox_mAP: (-?[\d.]+)', out)
    assert match, out[-2000:]
    assert 0.0 <= float(match.group(1)) <= 1.0

    # the inference form (SwitchToDeployHook after the checkpoint is loaded)
    out = run_tool('test.py', CONFIG, osp.join(work, 'epoch_2.pth'), '--deploy',
                   '--work-dir', str(tmp_path / 'test_deploy'), '--cfg-options', *TINY,
                   cwd=str(tmp_path))
    assert 'switched to its deploy form' in out, out[-2000:]
    match = re.search(r'coco/bbox_mAP: (-?[\d.]+)', out)
    assert match and 0.0 <= float(match.group(1)) <= 1.0, out[-2000:]


def make_tiny_coco2017(root):
    """A COCO-2017 layout (train2017/, val2017/, annotations/instances_*2017.json) from
    the demo scenes, with the shapes renamed to real COCO classes so the unmodified
    80-class configs keep their annotations."""
    import os
    import shutil

    from mmdet.datasets import CocoDataset

    from mmhad.utils.demo_data import make_demo_data
    demo = osp.join(root, 'demo')
    make_demo_data(demo, num_train=4, num_val=2, size=96, seed=1, progress=False)
    coco = osp.join(root, 'coco')
    os.makedirs(osp.join(coco, 'annotations'))
    for split in ('train', 'val'):
        shutil.copytree(osp.join(demo, 'coco', split), osp.join(coco, f'{split}2017'))
        with open(osp.join(demo, 'coco/annotations', f'instances_{split}.json')) as f:
            ann = json.load(f)
        # all 80 COCO categories, as in the real file; the shapes become the first four
        ann['categories'] = [dict(id=i + 1, name=name, supercategory='thing')
                             for i, name in enumerate(CocoDataset.METAINFO['classes'])]
        with open(osp.join(coco, 'annotations', f'instances_{split}2017.json'), 'w') as f:
            json.dump(ann, f)


@pytest.mark.slow
def test_flagship_config_trains_and_validates_when_coco_is_there(tmp_path):
    """`tools/train.py configs/emo/ssdlite_emo5m_coco.py` with COCO at its data root
    (data/coco/, relative to the working directory): trains and runs the COCO metric
    (through SSDHeadWithPredict). Only sizes are shrunk; no ImageNet weights offline."""
    make_tiny_coco2017(str(tmp_path / 'data'))
    work = str(tmp_path / 'work')
    out = run_tool(
        'train.py', osp.join(REPO, 'configs/emo/ssdlite_emo5m_coco.py'), '--work-dir', work,
        '--cfg-options', 'model.backbone.init_cfg=None', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'train_dataloader.dataset.times=1',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0', 'val_dataloader.batch_size=2',
        'default_hooks.logger.interval=1',
        # two iterations from scratch score below the config's 0.02: keep every box so
        # the COCO metric has predictions to evaluate
        'model.test_cfg.score_thr=0.0', cwd=str(tmp_path))
    assert all(math.isfinite(v) for v in losses(work)) and losses(work)
    assert re.search(r'coco/bbox_mAP: [\d.]+', out), out[-2000:]


def test_package_config_and_missing_config(tmp_path):
    """tools/train.py reads `pkg::` configs through the shared loader (here it gets as
    far as the data check: no COCO -> one message, exit 2), and names a missing config."""
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'),
         'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py', '--work-dir',
         str(tmp_path / 'work')], cwd=str(tmp_path), capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert ('\nerror: The dataset of mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_'
            'coco.py is not where' in '\n' + proc.stderr), proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'), 'configs/no_such.py'],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "config 'configs/no_such.py' does not exist" in proc.stderr, proc.stderr[-2000:]
