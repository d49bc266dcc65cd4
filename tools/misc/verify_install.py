"""Check that the OpenMMLab stack mmhad needs is installed and works.

Exit code 0 when every check passes; otherwise prints what is wrong and how to fix it.
"""
import argparse
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--quiet', action='store_true')
    args = parser.parse_args()
    try:
        import torch
        import torchvision

        import mmhad  # checks versions only (works on mmcv-lite)
        from mmhad.utils.env import mmcv_ops_problem

        # ``import mmhad`` no longer needs mmcv's compiled ops; the detectors do.
        ops_problem = mmcv_ops_problem()
        if ops_problem:
            raise ImportError(ops_problem)
        from mmcv.ops import nms, roi_align
        import mmdet  # noqa: F401
        import mmpretrain  # noqa: F401
        import mmseg  # noqa: F401
        import mmseg.models  # noqa: F401  (needs ftfy + regex)

        boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                              [20., 20., 30., 30.]])
        scores = torch.tensor([0.9, 0.8, 0.7])
        _, keep = nms(boxes, scores, 0.5)
        assert keep.tolist() == [0, 2], keep
        assert torchvision.ops.nms(boxes, scores, 0.5).tolist() == [0, 2]
        feats = torch.arange(16.).view(1, 1, 4, 4)
        rois = torch.tensor([[0., 0., 0., 4., 4.]])
        out = roi_align(feats, rois, (2, 2), 1.0, 0, 'avg', True)
        assert out.shape == (1, 1, 2, 2) and torch.isfinite(out).all()
    except Exception as exc:  # noqa: BLE001
        if not args.quiet:
            print(f'mmhad install check FAILED: {type(exc).__name__}: {exc}\n'
                  'Run `bash tools/install.sh` to (re)install the stack.')
        return 1
    if not args.quiet:
        print(f'mmhad {mmhad.__version__}: torch {torch.__version__}, '
              f'torchvision {torchvision.__version__}, mmcv ops OK, mmdet '
              f'{mmdet.__version__}, mmseg {mmseg.__version__}, mmpretrain '
              f'{mmpretrain.__version__}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
