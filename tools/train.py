"""Train any mmhad config (mmdet, mmseg or mmpretrain) with MMEngine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options k=v ...] [--launcher none|pytorch|slurm]

The config's ``default_scope`` picks the library; ``custom_imports`` pulls in mmhad.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from tools.common import (add_common_args, build_runner, load_config,  # noqa: E402
                          run_cli)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model with mmhad')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from CKPT, or from the latest checkpoint in the work dir when '
        'no path is given')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: fp16 on GPU, bf16 autocast on CPU')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the actual / the config\'s batch size')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args, loaders=('train_dataloader', 'val_dataloader'))

    if args.amp:
        from mmhad.engine import enable_amp
        enable_amp(cfg)
    if args.auto_scale_lr:
        if not cfg.get('auto_scale_lr', {}).get('base_batch_size'):
            raise ValueError('--auto-scale-lr needs `auto_scale_lr = dict(enable=False, '
                             'base_batch_size=N)` in the config.')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        from mmhad.utils.checkpoint import load_checkpoint_file
        load_checkpoint_file(args.resume)  # missing / truncated: one clear error, no build
        cfg.resume, cfg.load_from = True, args.resume

    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    run_cli(main)
