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
    run_tool('train.py', CONFIG, '--work-dir', work, '--cfg-options',
             'train_cfg.max_epochs=1', *TINY, cwd=str(tmp_path))
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    first = losses(work)
    assert len(first) == 2 and all(math.isfinite(v) for v in first)  # 2 iterations

    log = run_tool('train.py', CONFIG, '--work-dir', work, '--resume', '--cfg-options',
                   'train_cfg.max_epochs=2', *TINY, cwd=str(tmp_path))
    assert re.search(r'resumed epoch: 1, iter: 2', log), log[-2000:]
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))

    out = run_tool('test.py', CONFIG, osp.join(work, 'epoch_2.pth'), '--work-dir',
                   str(tmp_path / 'test'), '--cfg-options', *TINY, cwd=str(tmp_path))
    match = re.search(r'coco/bbox_mAP: (-?[\d.]+)', out)
    assert match, out[-2000:]
    assert 0.0 <= float(match.group(1)) <= 1.0
