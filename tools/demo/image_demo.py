"""Draw a model's predictions on an image with the mmdet / mmseg visualizers.

    python tools/demo/image_demo.py CONFIG CHECKPOINT IMAGE --out OUT.png
                                    [--score-thr 0.3] [--device cpu] [--deploy]

Works for every mmhad detection (boxes, and masks for Mask R-CNN) and segmentation
config: the config's ``default_scope`` picks mmdet or mmseg. ``--deploy`` runs the
inference form (``mmhad.models.switch_to_deploy``).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.common import run_cli  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file or pkg::rel/path.py')
    parser.add_argument('checkpoint')
    parser.add_argument('image')
    parser.add_argument('--out', required=True, help='output PNG path')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detections below this score are not drawn')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--deploy', action='store_true',
                        help='run the deploy form of the model (switch_to_deploy)')
    return parser.parse_args(argv)


def draw_prediction(config, checkpoint, image, out, score_thr=0.3, device='cpu',
                    deploy=False):
    """Run the model on ``image`` and write the drawn prediction to ``out``."""
    import mmcv

    import mmhad  # noqa: F401
    from mmhad.utils.compat import apply_runtime_patches
    from mmhad.utils.checkpoint import load_checkpoint_file
    from mmhad.models.deploy import switch_to_deploy
    from mmhad.utils.config_model import load_config

    apply_runtime_patches()
    # file or pkg::path; a missing config or image fails here, naming it
    cfg = load_config(config)
    if not osp.isfile(image):
        raise FileNotFoundError(f'image {image!r} does not exist.')
    load_checkpoint_file(checkpoint)  # clear error for a missing / corrupt checkpoint
    scope = cfg.get('default_scope')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    img = mmcv.imread(image, channel_order='rgb')
    if scope == 'mmdet':
        from mmdet.apis import inference_detector, init_detector
        from mmdet.registry import VISUALIZERS
        model = init_detector(cfg, checkpoint, device=device)
        if deploy:
            switch_to_deploy(model)
        result = inference_detector(model, image)
        visualizer = VISUALIZERS.build(model.cfg.visualizer)
        visualizer.dataset_meta = model.dataset_meta
        visualizer.add_datasample('prediction', img, data_sample=result, draw_gt=False,
                                  pred_score_thr=score_thr, show=False, out_file=out)
        return result
    if scope == 'mmseg':
        from mmseg.apis import inference_model, init_model, show_result_pyplot
        model = init_model(cfg, checkpoint, device=device)
        if deploy:
            switch_to_deploy(model)
        result = inference_model(model, image)
        show_result_pyplot(model, image, result, show=False, out_file=out, opacity=0.5,
                           draw_gt=False)
        return result
    raise ValueError(f'{config}: default_scope {scope!r} is not a detection or '
                     "segmentation config (expected 'mmdet' or 'mmseg').")


def main(argv=None):
    args = parse_args(argv)
    draw_prediction(args.config, args.checkpoint, args.image, args.out, args.score_thr,
                    args.device, args.deploy)
    print(f'prediction drawn to {args.out}')


if __name__ == '__main__':
    run_cli(main)
