"""Regenerate ``tests/data/emo_official.json`` from the official EMO code.

The official code is NOT part of this repository; see ``tests/data/README.md`` for how to
place it (``model/emo.py`` and ``model/basic_modules.py`` of zhangzjn/EMO, with timm 0.6
and einops on ``PYTHONPATH``). Run from the repository root:

    PYTHONPATH=$OFFICIAL_ROOT:$OFFSITE_PACKAGES python3 tests/data/gen_emo_official.py

It records, for every official variant, the state-dict keys and shapes in official order,
and for a few cases the eval-mode logits of the official model whose weights were filled
by ``tests.helpers.fill_state_dict_bn`` (the same function the test uses).
"""
import argparse
import importlib.util
import json
import subprocess
from pathlib import Path

import timm
import torch
from model.emo import EMO_1M, EMO_2M, EMO_5M, EMO_6M  # the official factories

# tests/helpers.py by path: site-packages may hold another top-level ``tests`` package
_spec = importlib.util.spec_from_file_location(
    'mmhad_test_utils', Path(__file__).resolve().parents[1] / 'helpers.py')
_utils = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_utils)
fill_state_dict_bn, seeded_input = _utils.fill_state_dict_bn, _utils.seeded_input
state_dict_checksum = _utils.state_dict_checksum

FACTORIES = {'1m': EMO_1M, '2m': EMO_2M, '5m': EMO_5M, '6m': EMO_6M}
# (arch, window size, weight seed, input seed, input shape); 5m/10 is the official
# SSDLite/RetinaNet setting; odd sizes exercise the window padding
CASES = [
    ('1m', 7, 0, 1, (2, 3, 97, 131)),
    ('1m', 7, 0, 2, (1, 3, 224, 224)),
    ('5m', 10, 0, 3, (1, 3, 129, 161)),
]


def official_model(arch, window_size=7):
    model = FACTORIES[arch]()
    for module in model.modules():
        if hasattr(module, 'window_size'):
            module.window_size = window_size
    return model.eval()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', default='tests/data/emo_official.json')
    parser.add_argument('--official-commit', default='unknown')
    args = parser.parse_args()
    torch.set_num_threads(2)
    fixture = dict(
        source=dict(repo='zhangzjn/EMO', commit=args.official_commit,
                    files=['model/emo.py', 'model/basic_modules.py'],
                    timm=timm.__version__, torch=torch.__version__.split('+')[0]),
        archs={}, cases=[])
    for arch, factory in FACTORIES.items():
        model = factory()
        fixture['archs'][arch] = dict(
            num_params=sum(p.numel() for p in model.parameters()),
            keys=[[k, list(v.shape)] for k, v in model.state_dict().items()])
    for arch, window, wseed, iseed, shape in CASES:
        model = official_model(arch, window)
        keys = fixture['archs'][arch]['keys']
        state = fill_state_dict_bn(keys, wseed)
        model.load_state_dict(state, strict=True)
        with torch.no_grad():
            logits = model(seeded_input(shape, iseed))['out']
        fixture['cases'].append(dict(
            arch=arch, window_size=window, weight_seed=wseed, input_seed=iseed,
            input_shape=list(shape), weight_checksum=state_dict_checksum(state),
            logits=[[float(f'{v:.7g}') for v in row] for row in logits.tolist()]))
        print(arch, window, shape, logits.abs().max().item())
    with open(args.out, 'w') as f:
        json.dump(fixture, f, separators=(',', ':'))
        f.write('\n')
    print('wrote', args.out, subprocess.run(['du', '-h', args.out], capture_output=True,
                                            text=True).stdout.split()[0])


if __name__ == '__main__':
    main()
