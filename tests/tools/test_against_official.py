"""tools/analysis/against_official.py: mmhad's deploy form timed against the official code.

The official code is not in this repository, so these tests write stand-ins for its files:
modules with the official state-dict keys and shapes (``tests/data/*_official.json``)
whose forward is mmhad's own training-form classifier on the converted weights. They
test the tool's plumbing (finding and importing the files, the ``model`` package EMO's
files need, seeded weights, conversion, the parity gate, the rounds and the report); the
parity of the real official code is tested in ``tests/models/backbones/``.
"""
import json
import os.path as osp
import re
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)  # as the scripts in tools/analysis/ do

from tools.analysis import against_official as tool  # noqa: E402

DATA = osp.join(REPO, 'tests', 'data')

# A stand-in for an official model file: the official keys, mmhad's computation (plus
# OFFSET, to fake a model that is not the same function).
STAND_IN = '''
import torch
from torch import nn
{imports}

KEYS = {keys!r}
OFFSET = {offset!r}


class StandIn(nn.Module):
    def __init__(self):
        super().__init__()
        for key, shape in KEYS:
            *path, leaf = key.split('.')
            parent = self
            for name in path:
                if not hasattr(parent, name):
                    parent.add_module(name, nn.Module())
                parent = getattr(parent, name)
            if leaf == 'num_batches_tracked':
                parent.register_buffer(leaf, torch.zeros(shape, dtype=torch.long))
            elif leaf.startswith('running_'):
                parent.register_buffer(leaf, torch.ones(shape))
            else:
                parent.register_parameter(leaf, nn.Parameter(0.02 * torch.randn(shape)))

    def forward(self, x):
        from mmhad.utils.config_model import build_model, load_model_config
        if not hasattr(self, 'ours'):  # built on first use: after the weights are set
            ours = build_model(load_model_config({config!r})).eval()
            ours.load_state_dict({convert}(self.state_dict()), strict=True)
            self.__dict__['ours'] = ours  # not a sub-module: keeps the official keys
        with torch.no_grad():
            logits = self.ours(x, mode='tensor') + OFFSET
        return {wrap}
'''


def write_efficientmod(root, offset=0., imports=''):
    keys = json.load(open(osp.join(DATA, 'efficientmod_official.json')))['keys']['xxs']
    path = osp.join(root, 'models', 'EfficientMod.py')
    (root / 'models').mkdir(parents=True)
    code = STAND_IN.format(
        imports=imports + '\nfrom mmhad.utils.converters.efficientmod import '
        'convert_efficientmod', keys=keys, offset=offset,
        config=osp.join(REPO, 'configs/efficientmod/efficientmod-xxs_8xb256-310e_in1k.py'),
        convert='convert_efficientmod', wrap='logits')
    with open(path, 'w') as f:
        f.write(code + '\n\ndef efficientMod_xxs(pretrained=False, **kwargs):\n'
                '    return StandIn()\n')
    return str(root)


def write_emo(root):
    keys = json.load(open(osp.join(DATA, 'emo_official.json')))['archs']['1m']['keys']
    (root / 'model').mkdir(parents=True)
    # as the official files: the factories registered in `model.MODEL`, emo.py importing
    # from model.basic_modules
    (root / 'model' / 'basic_modules.py').write_text('SCALE = 1.0\n')
    code = STAND_IN.format(
        imports='from model import MODEL\nfrom model.basic_modules import SCALE\n'
        'from mmhad.utils.converters.emo import convert_emo', keys=keys, offset=0.,
        config=osp.join(REPO, 'configs/emo/emo-1m_8xb256-300e_in1k.py'),
        convert='convert_emo', wrap="{'out': logits * SCALE, 'out_kd': logits}")
    (root / 'model' / 'emo.py').write_text(
        code + '\n\n@MODEL.register_module\ndef EMO_1M(pretrained=False, **kwargs):\n'
        '    return StandIn()\n')
    return str(root)


def run_tool(argv, capsys):
    results = tool.main(argv)
    return results, capsys.readouterr().out


@pytest.mark.parametrize('family,arch,write', [('efficientmod', 'xxs', write_efficientmod),
                                               ('emo', '1m', write_emo)])
def test_times_both_models_and_reports_the_paired_ratio(family, arch, write, tmp_path,
                                                        capsys):
    root = write(tmp_path / 'official')
    out_json = tmp_path / 'ratios.json'
    users_model = sys.modules.get('model')
    results, out = run_tool(['--family', family, '--official-root', root, '--archs', arch,
                             '--sizes', '32', '--batch-sizes', '1', '2', '--rounds', '3',
                             '--calls', '1', '--out', str(out_json)], capsys)
    cases = results[arch]['cases']
    assert set(cases) == {(32, 1), (32, 2)}
    for stats in cases.values():
        assert stats['rounds'] == 3
        assert stats['min'] <= stats['q1'] <= stats['median'] <= stats['q3'] <= stats['max']
        assert 0 < stats['median'] < float('inf')
        assert stats['official_ms'] > 0 and stats['mmhad_ms'] > 0
    assert results[arch]['error'] <= 1e-4
    row = next(line for line in out.splitlines() if line.startswith(f'| {family}-{arch} '))
    assert row.count('|') == 4  # name + two cases
    assert 'of 2 cases within 0.8x' in out
    saved = json.loads(out_json.read_text())
    assert saved['results'][arch]['cases']['32x32/b2']['rounds'] == 3
    # EMO's stand-in `model` package does not stay behind to shadow another one
    assert sys.modules.get('model') is users_model


def test_emo_loader_puts_another_model_package_back(tmp_path, monkeypatch):
    users = type(sys)('model')
    monkeypatch.setitem(sys.modules, 'model', users)
    module = tool.load_official_module('emo', write_emo(tmp_path / 'official'))
    assert callable(module.EMO_1M)
    assert sys.modules['model'] is users


def test_perturbed_weights_are_seeded_and_touch_bn_statistics():
    def build():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))

    a, b, c = (tool.perturb_(build(), seed) for seed in (1, 1, 2))
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert not torch.equal(a[0].weight, c[0].weight)
    assert not torch.equal(a[1].running_var, torch.ones(4))
    assert (a[1].running_var >= 0.5).all()  # still a valid variance


def test_the_ratio_is_mmhad_over_official(tmp_path, capsys, monkeypatch):
    # rounds that take 0.2 s for the official model and 0.05 s for mmhad's, by fiat
    def fake_rounds(fns, rounds, calls, warmup=1):
        for fn in fns.values():
            fn()  # both forwards still run
        return {'official': [0.2] * rounds, 'mmhad': [0.05] * rounds}

    monkeypatch.setattr(tool, 'interleaved_rounds', fake_rounds)
    root = write_efficientmod(tmp_path / 'official')
    results, out = run_tool(['--family', 'efficientmod', '--official-root', root,
                             '--sizes', '32', '--batch-sizes', '1', '--rounds', '2',
                             '--archs', 'xxs'], capsys)
    stats = results['xxs']['cases'][(32, 1)]
    assert stats['median'] == pytest.approx(0.25)
    assert stats['official_ms'] == pytest.approx(200) and \
        stats['mmhad_ms'] == pytest.approx(50)
    assert '0.25 (0.25-0.25); 50.0 / 200.0 ms' in out
    assert '1 of 1 cases within 0.8x' in out


def test_a_model_that_is_not_the_same_function_is_not_timed(tmp_path, capsys):
    root = write_efficientmod(tmp_path / 'official', offset=1.0)
    with pytest.raises(SystemExit, match='differs from the official model'):
        tool.main(['--family', 'efficientmod', '--official-root', root, '--archs', 'xxs',
                   '--sizes', '32', '--batch-sizes', '1', '--rounds', '1'])


def test_missing_files_and_dependencies_say_what_to_do(tmp_path):
    with pytest.raises(SystemExit, match=r'has no models/EfficientMod\.py.*checkout'):
        tool.main(['--family', 'efficientmod', '--official-root', str(tmp_path)])
    with pytest.raises(SystemExit, match=r'has no model/emo\.py, model/basic_modules\.py'):
        tool.main(['--family', 'emo', '--official-root', str(tmp_path)])
    root = write_efficientmod(tmp_path / 'needs_timm',
                              imports='import timm_not_installed_here')
    with pytest.raises(SystemExit, match=r"timm_not_installed_here.*--target DIR.*"
                                         r"PYTHONPATH"):
        tool.main(['--family', 'efficientmod', '--official-root', root])


@pytest.mark.parametrize('argv,match', [
    (['--archs', 'xl'], r"unknown efficientmod arch\(s\) \['xl'\]"),
    (['--rounds', '0'], '--rounds must be >= 1'),
    (['--batch-sizes', '1', '0'], '--batch-sizes must be >= 1'),
    (['--threads', '0'], '--threads must be >= 1'),
    (['--rtol', '0'], '--rtol must be > 0'),
    (['--out', '/nonexistent-folder/x.json'], 'its folder does not exist'),
])
def test_argument_validation(argv, match, capsys):
    with pytest.raises(SystemExit):
        tool.parse_args(['--family', 'efficientmod', '--official-root', '.'] + argv)
    err = capsys.readouterr().err
    assert re.search(match, err), err
