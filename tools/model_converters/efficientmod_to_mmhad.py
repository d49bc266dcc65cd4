"""Convert an official EfficientMod checkpoint to an mmpretrain classifier checkpoint.

    python tools/model_converters/efficientmod_to_mmhad.py SRC.pth DST.pth

SRC: a checkpoint of ma-xu/EfficientMod (a flat state dict or one under 'model' /
'state_dict_ema' / ...). DST: ``{'state_dict': {backbone.*, head.fc.*}, 'meta': ...}``,
loadable by the configs in configs/efficientmod/ and, with
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``, by the
detection / segmentation backbones.
"""
import argparse
import sys

from mmhad.utils.checkpoint import CheckpointError, convert_file
from mmhad.utils.converters.efficientmod import convert_efficientmod


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('src', help='official EfficientMod checkpoint')
    parser.add_argument('dst', help='output mmpretrain checkpoint')
    args = parser.parse_args(argv)
    try:
        state = convert_file(args.src, args.dst, convert_efficientmod,
                             meta=dict(source='ma-xu/EfficientMod'))
    except CheckpointError as exc:
        sys.exit(f'error: {exc}')
    print(f'converted {len(state)} tensors: {args.src} -> {args.dst}')


if __name__ == '__main__':
    main()
