"""Official checkpoints, as their repositories save them, load through
``init_cfg=dict(type='Pretrained', checkpoint=PATH_OR_URL, prefix='backbone.')`` in our
detection, segmentation and classification configs (``mmhad/utils/pretrained.py``), from a
file and from a URL (mmengine's loader and cache, served on 127.0.0.1), and equal what the
converters produce.

The official weights are seeded fills of the official key names and shapes recorded in
``tests/data/*_official.json`` (as the converter tests use).
"""
import functools
import http.server
import json
import os
import os.path as osp
import threading

import pytest
import torch
from mmengine.config import Config

from mmhad.utils.checkpoint import CheckpointError
from mmhad.utils.config_model import build_model
from mmhad.utils.converters import OFFICIAL_FORMATS, convert_efficientmod, convert_emo
from mmhad.utils.pretrained import load_pretrained
from tests.helpers import fill_state_dict_bn

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA = osp.join(REPO, 'tests', 'data')


def _official_keys(family, arch):
    if family == 'EMO':
        with open(osp.join(DATA, 'emo_official.json')) as f:
            return json.load(f)['archs'][arch]['keys']
    with open(osp.join(DATA, 'efficientmod_official.json')) as f:
        return json.load(f)['keys'][arch]


# family -> (arch, how the official training script nests the weights, converter)
OFFICIAL = {'EMO': ('1m', 'net', convert_emo),                   # zhangzjn/EMO net.pth
            'EfficientMod': ('xxs', 'state_dict', convert_efficientmod)}  # timm's saver
CONFIGS = [
    ('EMO', 'configs/emo/retinanet_emo-1m_fpn_8xb4-1x_coco.py'),
    ('EMO', 'configs/emo/deeplabv3_emo-1m_8xb4-80k_ade20k-512x512.py'),
    ('EMO', 'configs/emo/emo-1m_8xb256-300e_in1k.py'),
    ('EfficientMod', 'configs/efficientmod/retinanet_efficientmod-xxs_fpn_8xb4-1x_coco.py'),
    ('EfficientMod', 'configs/efficientmod/deeplabv3_efficientmod-xxs_8xb4-80k_ade20k-512x512.py'),
    ('EfficientMod', 'configs/efficientmod/efficientmod-xxs_8xb256-310e_in1k.py'),
]


@functools.lru_cache(maxsize=None)
def official_state(family):
    arch, _, _ = OFFICIAL[family]
    return fill_state_dict_bn(_official_keys(family, arch), seed=7)


@pytest.fixture(scope='module')
def official_files(tmp_path_factory):
    root = tmp_path_factory.mktemp('official')
    files = {}
    for family, (arch, nest, _) in OFFICIAL.items():
        path = root / f'{family.lower()}-{arch}_official.pth'
        torch.save({nest: official_state(family), 'epoch': 300}, path)
        files[family] = str(path)
    return files


def build_with_pretrained(config, checkpoint):
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=checkpoint,
                                       prefix='backbone.')
    model = build_model(cfg)
    model.init_weights()
    return model


def assert_backbone_equals_converted(model, family):
    converted = OFFICIAL[family][2](official_state(family))
    own = model.backbone.state_dict()
    assert own
    for key, value in own.items():
        torch.testing.assert_close(value, converted['backbone.' + key], rtol=0, atol=0,
                                   msg=key)


@pytest.mark.parametrize('family, config', CONFIGS, ids=[osp.basename(c) for _, c in CONFIGS])
def test_official_checkpoint_file_loads_in_config(family, config, official_files):
    model = build_with_pretrained(config, official_files[family])
    assert_backbone_equals_converted(model, family)


@pytest.fixture
def http_root(tmp_path, monkeypatch):
    """A static HTTP server on 127.0.0.1 over ``tmp_path / 'www'``; mmengine's URL cache
    (``$TORCH_HOME/hub/checkpoints``) under ``tmp_path / 'torch_home'``."""
    www = tmp_path / 'www'
    www.mkdir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    for var in ('http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy',
                'ALL_PROXY'):  # a runner behind a proxy would send 127.0.0.1 to it
        monkeypatch.delenv(var, raising=False)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f'http://127.0.0.1:{server.server_address[1]}', tmp_path / 'torch_home'
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize('family, config', [CONFIGS[0], CONFIGS[4]],
                         ids=['retinanet-emo', 'deeplabv3-efficientmod'])
def test_official_checkpoint_url_loads_and_is_cached(family, config, official_files,
                                                     http_root):
    www, base_url, torch_home = http_root
    name = osp.basename(official_files[family])
    (www / name).write_bytes(open(official_files[family], 'rb').read())
    model = build_with_pretrained(config, f'{base_url}/{name}')
    assert_backbone_equals_converted(model, family)
    cached = torch_home / 'hub' / 'checkpoints' / name
    assert cached.is_file(), os.listdir(torch_home)
    (www / name).unlink()  # the second load is served from the cache
    assert_backbone_equals_converted(build_with_pretrained(config, f'{base_url}/{name}'),
                                     family)


def test_loader_and_converters_share_one_implementation():
    assert {fmt.backbone: fmt.convert for fmt in OFFICIAL_FORMATS} == {
        'EMO': convert_emo, 'EfficientMod': convert_efficientmod}


def test_mmhad_checkpoint_still_loads_with_prefix(tmp_path):
    from mmhad.models.backbones import EMO
    source = EMO('1m')
    for p in source.parameters():
        torch.nn.init.uniform_(p, -1, 1)
    path = tmp_path / 'mmhad.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in source.state_dict().items()},
                'meta': {}}, path)
    target = EMO('1m')
    assert load_pretrained(target, str(path), prefix='backbone.') is None
    for key, value in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[key], value, rtol=0, atol=0)


def test_neither_official_nor_prefixed_names_what_was_expected(tmp_path):
    from mmhad.models.backbones import EMO
    path = tmp_path / 'other.pth'
    torch.save({'state_dict': {'encoder.conv.weight': torch.zeros(1)}}, path)
    with pytest.raises(CheckpointError) as info:
        load_pretrained(EMO('1m'), str(path), prefix='backbone.')
    message = str(info.value)
    assert "has no weights under prefix 'backbone.'" in message
    assert 'zhangzjn/EMO' in message and 'ma-xu/EfficientMod' in message
    assert 'encoder.conv.weight' in message


def test_official_checkpoint_of_another_arch_or_family(official_files):
    from mmhad.models.backbones import EMO, EfficientMod
    with pytest.raises(CheckpointError, match='does not fit this EMO'):
        load_pretrained(EMO('2m'), official_files['EMO'], prefix='backbone.')
    with pytest.raises(CheckpointError, match='checkpoint of EMO, not of EfficientMod'):
        load_pretrained(EfficientMod('xxs'), official_files['EMO'], prefix='backbone.')
