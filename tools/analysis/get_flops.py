"""Params and FLOPs of mmhad configs (detection, segmentation or classification).

    python tools/analysis/get_flops.py CONFIG [CONFIG ...] [--size 512] [--no-attention]
                                       [--cfg-options k=v ...]

CONFIG is a file or a config of an installed OpenMMLab package, e.g.
``mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py`` (mmdet, mmseg, mmpretrain).
FLOPs: one multiply-add = one FLOP (mmengine.analysis). ``--no-attention`` leaves attention
matmuls out, the convention of the EMO paper's dense tables (see mmhad/utils/flops.py).
The input size defaults to the config's own (crop_size, else the test pipeline's crop or
resize; e.g. 800x800 for COCO two-stage detectors, whose FLOPs are usually quoted at
1333x800), else 224; --size sets a square size.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def measure(config, size=None, count_attention=True, cfg_options=None):
    from mmhad.utils.config_model import build_model, input_size, load_model_config
    from mmhad.utils.flops import count_model_flops
    cfg = load_model_config(config, cfg_options=cfg_options)
    model = build_model(cfg)
    model.eval()
    h, w = (size, size) if size else input_size(cfg)
    params = sum(p.numel() for p in model.parameters())
    flops = count_model_flops(model, (3, h, w), count_attention)
    return dict(config=config, size=f'{h}x{w}', params=params, flops=flops)


def main(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+',
                        help='config files or pkg::rel/path.py (mmdet, mmseg, mmpretrain)')
    parser.add_argument('--size', type=int, help='square input size')
    parser.add_argument('--no-attention', action='store_true',
                        help='do not count attention matmuls (EMO paper dense tables)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries of every CONFIG, e.g. '
                        'model.backbone.widen_factor=0.5')
    args = parser.parse_args(argv)
    print('| config | input | params (M) | FLOPs (G) |\n| --- | --- | --- | --- |')
    for config in args.configs:
        row = measure(config, args.size, not args.no_attention, args.cfg_options)
        print(f"| {osp.basename(config)} | {row['size']} | "
              f"{row['params'] / 1e6:.2f} | {row['flops'] / 1e9:.2f} |", flush=True)


if __name__ == '__main__':
    main()
