"""Bad input gets a clear error, never a deep traceback or a silently wrong model.

Malformed backbone arch dicts, checkpoints (missing, truncated, another model) in the
library and through ``tools/test.py``, and missing datasets through ``tools/train.py``.
"""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.registry import MODELS

import mmhad  # noqa: F401  (registers the backbones)
from mmhad.utils.checkpoint import (CheckpointError, check_state_dict_matches,
                                    extract_state_dict, load_checkpoint_file)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs/demo/ssdlite_emo1m_demo.py')
SMALLEST = {'EMO': '1m', 'EfficientMod': 'xxs', 'HadaptiveNet': 's'}


pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


def build(family, **kwargs):
    kwargs.setdefault('arch', SMALLEST[family])
    return MODELS.build(dict(type=family, **kwargs))


# ----------------------------------------------------------------- backbone arguments
# The arguments every backbone shares (arch names, out_indices, frozen_stages, drop path,
# with_cp, input checks) are tested once in tests/models/backbones/test_contract.py; here
# the malformed arch dicts, whose layout is each family's own.
@pytest.mark.parametrize('family, arch, match', [
    ('EMO', dict(depths=[2, 2, 8, 3], embed_dims=[32, 48, 80, 168]), 'missing keys'),
    ('EMO', dict(depths=[2, 2, 8], embed_dims=[32, 48, 80, 168], exp_ratios=[2] * 4,
                 head_dims=[16] * 4), r"arch\['depths'\] needs 4 values"),
    ('EfficientMod', dict(embed_dims=[32, 64, 128, 256], depths=[2, 2, 6, 2],
                          attn_depths=[0, 0, 1, 2], expand_ratios=[]), 'expand_ratios'),
    ('HadaptiveNet', dict(stem_channels=32, last_conv_channels=None,
                          layers=[[('conv', 48, 2, 2)], [('ghost', 64, 4.0, 2, 3)],
                                  [('conv', 96, 2, 2)], [('conv', 128, 2, 2)]]),
     'stride must be 1 or 2'),
    ('HadaptiveNet', dict(stem_channels=32, last_conv_channels=None,
                          layers=[[('conv', 48, 2, 2)], [('pool', 64)],
                                  [('conv', 96, 2, 2)], [('conv', 128, 2, 2)]]),
     'must be a tuple starting with one of'),
])
def test_malformed_arch_dict(family, arch, match):
    with pytest.raises(ValueError, match=match) as info:
        build(family, arch=arch)
    assert family in str(info.value)


# ----------------------------------------------------------------- checkpoints
@pytest.fixture(scope='module')
def emo1m_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('ckpt') / 'emo1m.pth'
    torch.save({'state_dict': build('EMO', arch='1m').state_dict(), 'meta': {}}, path)
    return str(path)


def test_missing_checkpoint(tmp_path):
    path = str(tmp_path / 'nope.pth')
    with pytest.raises(CheckpointError, match='checkpoint not found') as info:
        load_checkpoint_file(path)
    assert path in str(info.value)


def test_truncated_checkpoint(emo1m_file, tmp_path):
    data = open(emo1m_file, 'rb').read()
    half = tmp_path / 'half.pth'
    half.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='truncated') as info:
        load_checkpoint_file(str(half))
    assert str(half) in str(info.value) and str(len(data) // 2) in str(info.value)
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    with pytest.raises(CheckpointError, match='empty'):
        load_checkpoint_file(str(empty))


def test_checkpoint_of_another_model(emo1m_file):
    state = extract_state_dict(load_checkpoint_file(emo1m_file))
    emo5m = build('EMO', arch='5m')
    with pytest.raises(CheckpointError) as info:
        check_state_dict_matches(emo5m, state)
    message = str(info.value)
    assert 'missing keys' in message and 'shape mismatches' in message
    # by name: 5m has a third block in stage 1, and wider stage-1 convs
    assert 'stages.0.2.' in message
    assert 'checkpoint (32,' in message and 'vs model (48,' in message
    # and the same weights do fit the model they came from
    check_state_dict_matches(build('EMO', arch='1m'), state)


# ----------------------------------------------------------------- through the CLI
def run_tool(tool, *args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, osp.join(REPO, 'tools', tool), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env=env)


def assert_clean_error(proc, *needles):
    """Exit code 2, one ``error:`` message on stderr, no traceback."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-3000:]
    assert 'Traceback' not in out, out[-3000:]
    assert proc.stderr.count('error: ') == 1, proc.stderr[-3000:]
    for needle in needles:
        assert needle in proc.stderr, proc.stderr[-3000:]


TINY = ['demo_data.num_train=2', 'demo_data.num_val=2', 'demo_data.size=64',
        'test_dataloader.num_workers=0', 'test_dataloader.batch_size=2']


@pytest.mark.slow
def test_cli_test_missing_and_truncated_checkpoint(emo1m_file, tmp_path):
    proc = run_tool('test.py', DEMO, str(tmp_path / 'missing.pth'), cwd=str(tmp_path))
    assert_clean_error(proc, 'checkpoint not found', 'missing.pth')

    data = open(emo1m_file, 'rb').read()
    half = tmp_path / 'half.pth'
    half.write_bytes(data[:len(data) // 2])
    proc = run_tool('test.py', DEMO, str(half), cwd=str(tmp_path))
    assert_clean_error(proc, 'truncated', 'half.pth')


@pytest.mark.slow
def test_cli_train_resume_from_truncated_checkpoint(emo1m_file, tmp_path):
    """--resume with a half-written checkpoint: refused before the Runner is built."""
    data = open(emo1m_file, 'rb').read()
    half = tmp_path / 'epoch_3.pth'
    half.write_bytes(data[:len(data) // 2])
    proc = run_tool('train.py', DEMO, '--resume', str(half), '--work-dir',
                    str(tmp_path / 'w'), '--cfg-options', *TINY, cwd=str(tmp_path))
    assert_clean_error(proc, 'truncated', 'epoch_3.pth')
    assert not (tmp_path / 'w').exists()


@pytest.mark.slow
def test_cli_test_checkpoint_of_another_model(tmp_path):
    """EMO-2M weights for the SSDLite-EMO-1M demo detector: refused, keys listed."""
    backbone = build('EMO', arch='2m').state_dict()
    path = tmp_path / 'emo2m_detector.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in backbone.items()},
                'meta': {}}, path)
    proc = run_tool('test.py', DEMO, str(path), '--work-dir', str(tmp_path / 'w'),
                    '--cfg-options', *TINY, cwd=str(tmp_path))
    assert_clean_error(proc, 'does not fit', 'missing keys', 'bbox_head.',
                       'unexpected keys', 'backbone.stages.0.2.', 'shape mismatches',
                       'backbone.stages.2.0.')


@pytest.mark.slow
def test_cli_train_missing_data_root(tmp_path):
    """The full COCO config on a machine without COCO: the root is named, with a hint."""
    config = osp.join(REPO, 'configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py')
    proc = run_tool('train.py', config, '--work-dir', str(tmp_path / 'w'),
                    cwd=str(tmp_path))
    assert_clean_error(proc, 'data/coco/', 'data_root', 'CocoDataset expects')


@pytest.mark.slow
def test_cli_train_missing_annotation_file(tmp_path):
    """Data root present, annotation files absent (nothing generated)."""
    os.makedirs(tmp_path / 'data/demo/coco/train')
    os.makedirs(tmp_path / 'data/demo/coco/val')
    proc = run_tool('train.py', DEMO, '--work-dir', str(tmp_path / 'w'),
                    '--cfg-options', 'demo_data=None', cwd=str(tmp_path))
    assert_clean_error(proc, 'annotations/instances_train.json',
                       'annotations/instances_val.json', '.ann_file')
