"""The input size a config evaluates at, read from the config itself."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmhad.utils.config_model import input_size

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


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
