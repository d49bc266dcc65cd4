"""Regenerate ``tests/data/efficientmod_official.json`` from the official EfficientMod code.

The official code is NOT part of this repository; see ``tests/data/README.md`` for how to
place it (``models/EfficientMod.py`` of ma-xu/EfficientMod saved as
``official_effmod.py``, with timm 0.6.13 on ``PYTHONPATH``). Run from the repository
root:

    PYTHONPATH=$OFFICIAL_ROOT:$OFFSITE_PACKAGES:. \
        python3 tests/data/gen_efficientmod_official.py --commit $OFFICIAL_COMMIT

It records, for every official variant, the state-dict keys and shapes in official order
and the parameter count, and for EfficientMod-xxs the eval-mode logits of the official
model whose weights were filled by ``tests.helpers.fill_state_dict`` (the same function the
test uses) on a ``tests.helpers.seeded_input``.
"""
import argparse
import json

import torch
import official_effmod as off  # the official models/EfficientMod.py

from tests.helpers import fill_state_dict, seeded_input, state_dict_checksum

FACTORIES = dict(xxs=off.efficientMod_xxs, xs=off.efficientMod_xs, s=off.efficientMod_s,
                 s_conv=off.efficientMod_s_Conv)
SEED, INPUT_SEED, INPUT_SHAPE = 0, 1, (1, 3, 64, 64)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--commit', required=True, help='official commit used')
    parser.add_argument('--out', default='tests/data/efficientmod_official.json')
    args = parser.parse_args()
    fixture = dict(
        source=f'github.com/ma-xu/EfficientMod models/EfficientMod.py @ {args.commit}',
        keys={}, num_params={})
    for arch, factory in FACTORIES.items():
        model = factory()
        fixture['keys'][arch] = [[k, list(v.shape)] for k, v in model.state_dict().items()]
        fixture['num_params'][arch] = sum(p.numel() for p in model.parameters())

    model = off.efficientMod_xxs().eval()
    state = fill_state_dict(fixture['keys']['xxs'], SEED)
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        logits = model(seeded_input(INPUT_SHAPE, INPUT_SEED))[0]
    fixture['logits'] = dict(arch='xxs', seed=SEED, input_seed=INPUT_SEED,
                             input_shape=list(INPUT_SHAPE),
                             weights_checksum=state_dict_checksum(state),
                             values=[float(f'{v:.6g}') for v in logits.tolist()])
    with open(args.out, 'w') as f:
        json.dump(fixture, f, separators=(',', ':'))
    print(f'wrote {args.out}: params {fixture["num_params"]}, '
          f'logits std {logits.std().item():.3f}')


if __name__ == '__main__':
    main()
