"""A config whose data is missing stops with one clear message, before any build."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmhad.utils.data_check import (MissingDataError, check_data_exists,
                                    check_pretrained_exists, find_missing_data)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_missing_coco_root_is_named_with_fix(tmp_path):
    cfg = Config.fromfile(osp.join(REPO, 'configs/emo/ssdlite_emo5m_coco.py'))
    root = str(tmp_path / 'nowhere' / 'coco') + '/'
    cfg.merge_from_dict({'train_dataloader.dataset.dataset.data_root': root})
    with pytest.raises(MissingDataError) as err:
        check_data_exists(cfg, loaders=('train_dataloader', ))
    msg = str(err.value)
    assert repr(root) in msg
    assert 'train_dataloader.dataset.dataset.data_root' in msg  # RepeatDataset unwrapped
    assert 'instances_{train,val}2017.json' in msg and 'cocodataset.org' in msg
    assert 'make demo' in msg


def test_missing_annotation_file_is_named(tmp_path):
    (tmp_path / 'ADEChallengeData2016').mkdir()
    cfg = Config.fromfile(osp.join(REPO, 'configs/emo/deeplabv3_emo-1m_8xb4-80k_ade20k-512x512.py'))
    cfg.merge_from_dict({'val_dataloader.dataset.data_root':
                         str(tmp_path / 'ADEChallengeData2016')})
    missing = find_missing_data(cfg, loaders=('val_dataloader', ))
    assert {key for _, key, _ in missing} == {'val_dataloader.dataset.data_prefix.img_path',
                                              'val_dataloader.dataset.data_prefix.seg_map_path'}
    with pytest.raises(MissingDataError, match='ADEChallengeData2016/: images'):
        check_data_exists(cfg, loaders=('val_dataloader', ))


def test_existing_data_passes(tmp_path):
    for rel in ('annotations', 'train2017'):
        (tmp_path / rel).mkdir()
    (tmp_path / 'annotations' / 'instances_train2017.json').write_text('{}')
    cfg = Config.fromfile(osp.join(REPO, 'configs/emo/ssdlite_emo5m_coco.py'))
    cfg.merge_from_dict({'train_dataloader.dataset.dataset.data_root': str(tmp_path) + '/'})
    check_data_exists(cfg, loaders=('train_dataloader', ))


def test_missing_pretrained_checkpoint_names_the_official_weights(tmp_path, monkeypatch):
    # The path resolves against the working directory; a checkout that followed the
    # README has the weights at ./checkpoints, so look from an empty directory.
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(osp.join(REPO, 'configs/emo/ssdlite_emo5m_coco.py'))
    with pytest.raises(MissingDataError) as err:
        check_pretrained_exists(cfg)
    msg = str(err.value)
    assert 'checkpoints/emo-5m_in1k.pth' in msg
    assert 'official zhangzjn/EMO net.pth there as it is' in msg
    assert 'model.backbone.init_cfg=None' in msg
    cfg.model.backbone.init_cfg = None
    check_pretrained_exists(cfg)


def test_train_tool_stops_before_building_runner(tmp_path):
    """The real CLI: exit with the message, no traceback from a dataset class."""
    import subprocess
    import sys
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools/train.py'),
         osp.join(REPO, 'configs/emo/ssdlite_emo5m_coco.py'), '--work-dir',
         str(tmp_path / 'work')], cwd=str(tmp_path), capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 2
    assert "'data/coco/' (from train_dataloader.dataset.dataset.data_root" in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not (tmp_path / 'work').exists()  # stopped before the Runner made its work dir
