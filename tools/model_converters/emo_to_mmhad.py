"""Convert an official EMO checkpoint to an mmpretrain classifier checkpoint.

    python tools/model_converters/emo_to_mmhad.py SRC.pth DST.pth [--arch {1m,2m,5m,6m}]

SRC: a checkpoint of zhangzjn/EMO (``resources/EMO_*M/net.pth``: a flat state dict, or
one under 'net' / 'model' / 'state_dict'). DST: ``{'state_dict': {backbone.*, head.fc.*},
'meta': ...}``, loadable by configs/emo/emo-*_8xb256-300e_in1k.py and, with
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``, by the
detection / segmentation backbones. The result is checked against ``EMO(arch)``
(``--arch``, inferred from the shapes when omitted).
"""
import argparse
import sys

from mmhad.utils.checkpoint import CheckpointError, convert_file
from mmhad.utils.converters.emo import check_converted_emo, convert_emo


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('src', help='official EMO checkpoint')
    parser.add_argument('dst', help='output mmpretrain checkpoint')
    parser.add_argument('--arch', choices=['1m', '2m', '5m', '6m'], default=None,
                        help='EMO variant to check against (default: inferred)')
    args = parser.parse_args(argv)
    checked = {}

    def convert(state):
        state = convert_emo(state)
        checked['arch'] = check_converted_emo(state, args.arch)
        return state

    try:
        state = convert_file(args.src, args.dst, convert,
                             meta=dict(source='zhangzjn/EMO', arch=args.arch))
    except CheckpointError as exc:
        sys.exit(f'error: {exc}')
    print(f'converted {len(state)} tensors of EMO-{checked["arch"]}: '
          f'{args.src} -> {args.dst}')


if __name__ == '__main__':
    main()
