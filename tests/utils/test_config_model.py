"""mmhad.utils.config_model: the one config loader / model builder of the tools, and the
input size a config evaluates at, read from the config itself."""
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

from mmhad.utils.config_model import (build_model, input_size, load_config,
                                      load_model_config)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def current_scope():
    return DefaultScope.get_current_instance().scope_name


@pytest.mark.parametrize('config, expected', [
    ('configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py', (320, 320)),              # test Resize 320x320
    ('configs/emo/deeplabv3_emo-1m_8xb4-80k_ade20k-512x512.py', (512, 512)),  # crop_size
    ('configs/emo/emo-1m_8xb256-300e_in1k.py', (224, 224)),              # ResizeEdge + CenterCrop
    ('configs/emo/mask-rcnn_emo-5m_fpn_8xb4-1x_coco.py', (800, 800)),     # 1333x800, keep ratio
])
def test_input_size_of_configs(config, expected):
    assert input_size(Config.fromfile(osp.join(REPO, config))) == expected


def test_input_size_default_without_pipeline():
    assert input_size(Config(dict(model=dict())), default=(512, 512)) == (512, 512)


@pytest.mark.parametrize('path', [
    'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py',
    'mmseg::cgnet/cgnet_fcn_4xb8-60k_cityscapes-512x1024.py',
    'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
])
def test_load_package_config(path):
    """`pkg::rel/path.py` is the file in the installed package's .mim/configs, with the
    package's default scope made current."""
    pkg, rel = path.split('::')
    cfg = load_config(path)
    assert cfg.filename.replace('\\', '/').endswith(f'/.mim/configs/{rel}')
    assert cfg.default_scope == pkg and current_scope() == pkg
    assert cfg.model.type  # its _base_ files were merged


def test_load_config_options_and_config_objects():
    path = osp.join(REPO, 'configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py')
    cfg = load_config(path, {'model.bbox_head.num_classes': 3, 'train_cfg.max_epochs': 1})
    assert (cfg.model.bbox_head.num_classes, cfg.train_cfg.max_epochs) == (3, 1)
    # a Config passes through; with options it is copied, never changed
    assert load_config(cfg) is cfg
    other = load_config(cfg, {'train_cfg.max_epochs': 7})
    assert other.train_cfg.max_epochs == 7 and cfg.train_cfg.max_epochs == 1


@pytest.mark.parametrize('path, error, message', [
    ('configs/emo/no_such_config.py', FileNotFoundError,
     "config 'configs/emo/no_such_config.py' does not exist"),
    ('mmdet::ssd/no_such_config.py', FileNotFoundError,
     "config 'mmdet::ssd/no_such_config.py' does not exist"),
    ('nosuchlib::ssd/ssdlite.py', ValueError, "config 'nosuchlib::ssd/ssdlite.py'"),
])
def test_missing_config_names_the_path(path, error, message):
    with pytest.raises(error, match=re.escape(message)):
        load_config(path)


def test_default_scope_is_honoured():
    """The loader makes the config's scope current; the builder uses the config's scope
    whatever the current one is."""
    cfg = load_model_config(osp.join(REPO, 'configs/emo/emo-1m_8xb256-300e_in1k.py'))
    assert cfg.default_scope == 'mmpretrain' and current_scope() == 'mmpretrain'
    assert cfg.model.backbone.init_cfg is None  # no ImageNet weights
    load_config(osp.join(REPO, 'configs/emo/deeplabv3_emo-1m_8xb4-80k_ade20k-512x512.py'))
    assert current_scope() == 'mmseg'
    init_default_scope('mmdet')
    model = build_model(cfg)
    assert type(model).__name__ == 'ImageClassifier'
    assert type(model).__module__.startswith('mmpretrain.')
    assert current_scope() == 'mmdet'  # building left the current scope alone
    # a config without default_scope falls back to MMEngine's root scope
    load_config(Config(dict(model=dict(type='EMO', arch='1m'))))
    assert current_scope() == 'mmengine'
