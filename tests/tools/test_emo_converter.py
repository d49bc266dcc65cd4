"""tools/model_converters/emo_to_mmhad.py: official EMO checkpoint -> mmpretrain."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

import mmhad  # noqa: F401
from mmhad.utils.checkpoint import CheckpointError
from mmhad.utils.converters.emo import (check_converted_emo, convert_emo,
                                        infer_emo_arch)
from tests.helpers import fill_state_dict_bn

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = json.loads((ROOT / 'tests/data/emo_official.json').read_text())


pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


def load_tool():
    path = ROOT / 'tools/model_converters/emo_to_mmhad.py'
    spec = importlib.util.spec_from_file_location('emo_to_mmhad', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def official_state(arch, seed=0):
    return fill_state_dict_bn(FIXTURE['archs'][arch]['keys'], seed)


@pytest.mark.parametrize('nesting', ['net', 'model', 'state_dict', None])
def test_cli_converts_nested_or_flat_checkpoints(tmp_path, nesting, capsys):
    state = official_state('1m')
    src, dst = tmp_path / 'net.pth', tmp_path / 'out' / 'emo-1m.pth'
    torch.save({nesting: state, 'epoch': 300} if nesting else state, src)
    load_tool().main([str(src), str(dst)])
    assert 'EMO-1m' in capsys.readouterr().out
    ckpt = torch.load(dst, weights_only=False)
    assert ckpt['meta']['source'] == 'zhangzjn/EMO'
    converted = ckpt['state_dict']
    assert set(converted) == set(convert_emo(state))
    assert all(k.startswith(('backbone.', 'head.fc.')) for k in converted)
    torch.testing.assert_close(converted['head.fc.weight'], state['head.weight'])
    torch.testing.assert_close(converted['backbone.norm.weight'], state['norm.norm.weight'])


@pytest.mark.parametrize('arch', ['1m', '2m', '5m', '6m'])
def test_arch_inferred_and_checked(arch):
    converted = convert_emo(official_state(arch))
    assert infer_emo_arch(converted) == arch
    assert check_converted_emo(converted, arch) == arch


def test_wrong_arch_and_foreign_keys_fail_clearly(tmp_path):
    converted = convert_emo(official_state('2m'))
    with pytest.raises(CheckpointError, match='does not fit EMO'):
        check_converted_emo(converted, '5m')
    state = official_state('1m')
    state['pre_head.0.weight'] = torch.zeros(10, 168)
    with pytest.raises(CheckpointError, match=r"1 official EMO keys have no mapping.*pre_head"):
        convert_emo(state)
    src = tmp_path / 'net.pth'
    torch.save({'net': official_state('1m')}, src)
    with pytest.raises(SystemExit, match='error: .*does not fit'):
        load_tool().main([str(src), str(tmp_path / 'o.pth'), '--arch', '5m'])
    with pytest.raises(SystemExit, match='checkpoint not found'):
        load_tool().main([str(tmp_path / 'missing.pth'), str(tmp_path / 'o.pth')])
