"""Export an mmhad backbone, the ACH layer or a whole model to ONNX; check it with
onnxruntime.

    python tools/deployment/export_onnx.py CONFIG [CHECKPOINT] --whole-model \\
        --out model.onnx [--verify IMAGE] [--shape H W] [--deploy]  # whole det/seg/cls
    python tools/deployment/export_onnx.py CONFIG [CHECKPOINT] --shape 224 224 \\
        --out backbone.onnx                      # the config's model.backbone
    python tools/deployment/export_onnx.py --backbone EMO --arch 1m --shape 224 224 \\
        --out emo1m.onnx [--cfg-options out_indices=3 window_size=7]
    python tools/deployment/export_onnx.py --ach 64 16 --ach-norm CrossHadaNorm \\
        --shape 28 28 --out ach.onnx             # the ACH layer alone (C1=64, Cs=16)

The graph has a dynamic batch axis (``batch``) and a fixed spatial size (``--shape``;
EMO's window padding and Hadaptive-Net's odd-size padding are resolved for it). Inputs
are ``input`` (N, C, H, W); outputs ``out0``, ``out1``, ... one per ``out_indices`` entry.
After export, onnxruntime runs the file at batch ``--batch`` and ``--batch + 1`` (to
exercise the dynamic axis) and the outputs are compared with PyTorch's: the relative error
``max|onnx - torch| / max|torch|`` of every output is printed, and the exit code is 1 if
one exceeds ``--rtol`` (default 1e-4). ``--checkpoint`` loads trained weights (an
mmengine checkpoint of the whole model, whose ``backbone.`` keys are used, or a
backbone-only state dict), checked key by key; without it the weights are random.
``--deploy`` exports the inference form (``switch_to_deploy()``: Conv+BN fused, ...); the
check still compares with the training form in eval mode.

``--whole-model`` exports the config's whole detector (single-stage: SSD/SSDLite,
RetinaNet; NMS in the graph as ONNX ``NonMaxSuppression``), segmentor (DeepLabv3, PSPNet,
Semantic FPN) or classifier at batch 1 and a fixed input size, then runs PyTorch's own
``test_step`` on IMAGE (``--verify``; a generated image without it) and onnxruntime on the
same pre-processed tensor and prints the largest differences; exit code 1 if they disagree
beyond rounding. The pre-processing (test pipeline + data preprocessor) stays outside
the graph; it is printed and written to ``OUT.json``. See tools/deployment/README.md and
``whole_model.py``.
"""
import argparse
import os
import os.path as osp
import sys
import warnings

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

OPSET = 17


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export an mmhad backbone, the ACH layer or a whole model to ONNX and '
        'check it with onnxruntime.')
    parser.add_argument('config', nargs='?', help='config (file or pkg::rel/path.py) whose '
                        'model.backbone (or, with --whole-model, whole model) is exported')
    parser.add_argument('checkpoint_pos', nargs='?', metavar='CHECKPOINT',
                        help='weights to export (same as --checkpoint)')
    parser.add_argument('--whole-model', action='store_true',
                        help='export the whole detector / segmentor / classifier of CONFIG '
                        '(pre-processing outside the graph, NMS / argmax / softmax in it)')
    parser.add_argument('--verify', metavar='IMAGE',
                        help='with --whole-model: compare onnxruntime with PyTorch\'s '
                        'test_step on this image (default: a generated image)')
    parser.add_argument('--deploy', action='store_true',
                        help='export the deploy form (switch_to_deploy(): Conv+BN fused, '
                        '...); the check still compares with the training form')
    parser.add_argument('--backbone', help='backbone type instead of a config, e.g. EMO, '
                        'EfficientMod, HadaptiveNet')
    parser.add_argument('--arch', help='arch of --backbone, e.g. 1m, xxs, s')
    parser.add_argument('--ach', nargs=2, type=int, metavar=('C1', 'CS'),
                        help='export the ACH layer with C1 input and CS selected channels')
    parser.add_argument('--ach-norm', default='BN', help='ACH product norm (default BN)')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='extra backbone / ACH arguments, e.g. out_indices=3; with '
                        '--whole-model, config overrides, e.g. model.test_cfg.score_thr=0.3')
    parser.add_argument('--checkpoint', help='weights to export (default: random)')
    parser.add_argument('--shape', nargs=2, type=int, default=None,
                        metavar=('H', 'W'), help='input height and width (default 224; '
                        'with --whole-model: what the test pipeline gives for IMAGE, or the '
                        'config\'s own input size)')
    parser.add_argument('--in-channels', type=int, default=None,
                        help='input channels (default: the model\'s, 3 for backbones)')
    parser.add_argument('--batch', type=int, default=1, help='batch used for tracing and '
                        'checking; batch + 1 is checked as well (default 1)')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument('--opset', type=int, default=OPSET)
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='largest accepted relative error of the raw outputs (default '
                        '1e-4)')
    parser.add_argument('--no-check', action='store_true',
                        help='skip the onnxruntime comparison')
    args = parser.parse_args(argv)
    chosen = [bool(args.config), bool(args.backbone), bool(args.ach)]
    if sum(chosen) != 1:
        parser.error('give exactly one of CONFIG, --backbone TYPE or --ach C1 CS')
    if args.arch and not args.backbone:
        parser.error('--arch goes with --backbone')
    if args.checkpoint_pos:
        if args.checkpoint and args.checkpoint != args.checkpoint_pos:
            parser.error(f'two checkpoints given: {args.checkpoint_pos} and --checkpoint '
                         f'{args.checkpoint}; give one')
        args.checkpoint = args.checkpoint_pos
    if args.whole_model and not args.config:
        parser.error('--whole-model exports the model of a CONFIG; give one (e.g. '
                     'configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py)')
    if args.verify and not args.whole_model:
        parser.error('--verify IMAGE goes with --whole-model (backbones are checked on '
                     'random tensors)')
    if args.whole_model and args.batch != 1:
        parser.error('--whole-model graphs have batch 1 (NMS per image); drop --batch')
    if args.shape is not None and min(args.shape) < 1:
        parser.error(f'--shape {args.shape[0]} {args.shape[1]}: sizes must be positive')
    return args


def _parse_options(options):
    from mmengine.config import DictAction
    out = {}
    for item in options:
        if '=' not in item:
            raise ValueError(f'--cfg-options {item!r}: expected KEY=VALUE')
        key, value = item.split('=', 1)
        out[key] = DictAction._parse_iterable(value)
    return out


def build_module(args):
    """The module to export and a short name for it."""
    import mmhad  # noqa: F401  (registers the modules)
    from mmengine.registry import MODELS
    options = _parse_options(args.cfg_options)
    if args.ach:
        from mmhad.models.layers.ach import ACH
        c1, cs = args.ach
        return ACH(c1, cs, args.ach_norm, **options), f'ACH(c1={c1}, cs={cs}, ' \
            f'norm={args.ach_norm})'
    if args.config:
        from mmhad.utils.config_model import load_config
        cfg = load_config(args.config)  # file or pkg::path; sets its default_scope
        if 'backbone' not in cfg.get('model', {}):
            raise ValueError(f'{args.config} has no model.backbone to export.')
        backbone = dict(cfg.model.backbone)
    else:
        backbone = dict(type=args.backbone)
        if args.arch:
            backbone['arch'] = args.arch
    backbone.update(options)
    backbone['init_cfg'] = None  # pretrained files need not exist to export
    import torch
    torch.manual_seed(0)  # without a checkpoint: the same random weights every run
    module = MODELS.build(backbone)  # constructed with PyTorch's default init
    return module, f'{backbone["type"]}(arch={backbone.get("arch")!r})'


def load_weights(module, path):
    from mmhad.utils.checkpoint import (check_state_dict_matches, extract_state_dict,
                                        load_checkpoint_file)
    state = extract_state_dict(load_checkpoint_file(path))
    if any(k.startswith('backbone.') for k in state):
        state = {k[len('backbone.'):]: v for k, v in state.items()
                 if k.startswith('backbone.')}
    check_state_dict_matches(module, state)
    module.load_state_dict(state)


class _TupleOutputs(torch.nn.Module):
    """Outputs as a tuple of tensors whatever the module returns."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        out = self.module(x)
        return tuple(out) if isinstance(out, (list, tuple)) else (out, )


def export(module, out, shape, in_channels, batch=1, opset=OPSET):
    """Trace ``module`` (eval mode) to ``out``; return (input names, output names)."""
    wrapped = _TupleOutputs(module).eval()
    dummy = torch.randn(batch, in_channels, *shape)
    with torch.no_grad():
        num_outputs = len(wrapped(dummy))
    outputs = [f'out{i}' for i in range(num_outputs)]
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # TracerWarnings: sizes are static by design
        torch.onnx.export(
            wrapped, (dummy, ), out, input_names=['input'], output_names=outputs,
            dynamic_axes={name: {0: 'batch'} for name in ['input'] + outputs},
            opset_version=opset, dynamo=False, do_constant_folding=True)
    return ['input'], outputs


def check_onnx(module, path, shape, in_channels, batches=(1, 2), seed=0):
    """Run the ONNX file with onnxruntime; return the worst relative error per output
    over ``batches`` as a list of floats (``module``: the PyTorch reference)."""
    import onnx
    import onnxruntime as ort
    onnx.checker.check_model(onnx.load(path))
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    wrapped = _TupleOutputs(module).eval()
    gen = torch.Generator().manual_seed(seed)
    worst = None
    for batch in batches:
        x = torch.randn(batch, in_channels, *shape, generator=gen)
        with torch.no_grad():
            expected = [t.numpy() for t in wrapped(x)]
        got = session.run(None, {'input': x.numpy()})
        if len(got) != len(expected):
            raise AssertionError(f'ONNX gives {len(got)} outputs, PyTorch {len(expected)}')
        errors = []
        for g, e in zip(got, expected):
            if g.shape != e.shape:
                raise AssertionError(f'batch {batch}: ONNX output shape {g.shape} vs '
                                     f'PyTorch {e.shape}')
            scale = max(float(abs(e).max()), 1e-12)
            errors.append(float(abs(g - e).max()) / scale)
        worst = errors if worst is None else [max(a, b) for a, b in zip(worst, errors)]
    return worst


def deploy_copy(module):
    """The deploy form of a copy of ``module`` (``mmhad.models.switch_to_deploy``)."""
    import copy

    from mmhad.models.deploy import switch_to_deploy
    return switch_to_deploy(copy.deepcopy(module))  # puts it in eval mode


def main(argv=None):
    args = parse_args(argv)
    if args.whole_model:
        return main_whole_model(args)
    if args.shape is None:
        args.shape = [224, 224]
    from mmhad.utils.checkpoint import CheckpointError
    try:
        module, name = build_module(args)
        if args.checkpoint:
            load_weights(module, args.checkpoint)
    except (CheckpointError, ValueError, TypeError, KeyError) as exc:
        sys.stderr.write(f'error: {exc}\n')
        return 2
    module.eval()
    in_channels = args.in_channels
    if in_channels is None:
        in_channels = args.ach[0] if args.ach else getattr(module, '_in_channels', None)
        if in_channels is None:
            conv = next((m for m in module.modules() if isinstance(m, torch.nn.Conv2d)),
                        None)
            in_channels = conv.in_channels if conv is not None else 3
    shape = tuple(args.shape)
    exported = deploy_copy(module) if args.deploy else module
    export(exported, args.out, shape, in_channels, args.batch, args.opset)
    form = ', deploy form' if args.deploy else ''
    print(f'exported {name}{form} at input (batch, {in_channels}, {shape[0]}, {shape[1]}) '
          f'to {args.out} (opset {args.opset}, dynamic batch)')
    if args.no_check:
        return 0
    errors = check_onnx(module, args.out, shape, in_channels,
                        batches=(args.batch, args.batch + 1))
    for i, err in enumerate(errors):
        print(f'out{i}: max relative error onnxruntime vs PyTorch = {err:.3e}')
    worst = max(errors)
    if worst > args.rtol:
        print(f'FAILED: relative error {worst:.3e} > {args.rtol:g}')
        return 1
    print(f'OK: onnxruntime matches PyTorch (max relative error {worst:.3e} '
          f'<= {args.rtol:g})')
    return 0


def main_whole_model(args):
    """--whole-model: export, then compare onnxruntime with PyTorch's ``test_step``."""
    import tempfile

    from tools.deployment import whole_model as wm

    from mmhad.utils.checkpoint import CheckpointError
    if args.verify and not osp.isfile(args.verify):
        sys.stderr.write(f'error: --verify {args.verify}: no such image file\n')
        return 2
    import torch
    torch.manual_seed(0)  # without a checkpoint: the same random weights every run
    try:
        cfg_options = _parse_options(args.cfg_options)
        cfg, model, task = wm.build_whole_model(args.config, args.checkpoint, cfg_options)
    except (CheckpointError, wm.UnsupportedModelError, FileNotFoundError, ValueError,
            KeyError) as exc:
        sys.stderr.write(f'error: {exc}\n')
        return 2
    shape = tuple(args.shape) if args.shape else None
    with tempfile.TemporaryDirectory(prefix='mmhad_export_') as tmp:
        image = args.verify
        if image is None:  # a generated image of the config's own input size
            from mmhad.utils.config_model import input_size
            image = wm.synthetic_image(osp.join(tmp, 'generated.png'),
                                       shape or input_size(cfg))
        try:
            prepared = wm.prepare_inputs(cfg, model, image, shape)
        except ValueError as exc:
            sys.stderr.write(f'error: {exc}\n')
            return 2
        x = prepared['inputs']
        h, w = x.shape[-2:]
        img_shape = prepared['data_samples'][0].metainfo.get('img_shape', (h, w))
        graph = wm.make_graph(task, model, (h, w), img_shape, deploy=args.deploy)
        names = wm.export_graph(graph, x, args.out, args.opset)
        sidecar = wm.write_sidecar(osp.splitext(args.out)[0] + '.json', task, cfg,
                                   prepared['pipeline'], (h, w), names, prepared['notes'])
        name = osp.splitext(osp.basename(args.config.split('::')[-1]))[0]
        form = 'deploy form (switch_to_deploy)' if args.deploy else 'training form, eval'
        print(f'exported {type(model).__name__} {name} ({form}) at input (1, 3, {h}, {w}) '
              f'to {args.out} (opset {args.opset}, batch 1, fixed size)')
        print('pre-processing, outside the graph, the same for PyTorch and onnxruntime:')
        for i, step in enumerate(wm.preprocessing_text(cfg, prepared['pipeline'], model), 1):
            print(f'  {i}. {step}')
        for note in prepared['notes']:
            print(f'  note: {note}')
        for line in _graph_description(task, graph, names, (h, w), img_shape):
            print(line)
        print(f'what to do around the graph: {sidecar}')
        if args.no_check:
            return 0
        session = wm.ort_session(args.out)
        where = args.verify or f'a generated {h}x{w} image (pass --verify IMAGE)'
        print(f'verification on {where}: onnxruntime vs PyTorch test_step '
              '(training form, eval)')
        report = wm.verify(task, model, graph, session, prepared, rtol=args.rtol)
    for line in report['lines']:
        print('  ' + line)
    if report['ok']:
        print('OK: onnxruntime matches PyTorch\'s test_step')
        return 0
    print(f'FAILED: onnxruntime and PyTorch disagree beyond rounding (raw outputs: '
          f'relative error > {args.rtol:g}, or differing decisions that no tie explains)')
    return 1


def _graph_description(task, graph, names, shape, img_shape):
    h, w = shape
    if task == 'det':
        nms = (f'NMS in the graph: ONNX NonMaxSuppression per class'
               f'{" (class-agnostic)" if graph.class_agnostic else ""}, IoU > '
               f'{graph.iou_thr:g} suppressed, scores > {graph.score_thr:g}, '
               f'{"all" if graph.nms_pre <= 0 else graph.nms_pre} best (anchor, class) '
               f'pairs per level before it, {graph.max_per_img} best after it, '
               f'min_bbox_size {graph.min_bbox_size}')
        return [f'outputs: dets (1, K, 5) = x1, y1, x2, y2 in input pixels (clipped to the '
                f'resized image {img_shape[0]}x{img_shape[1]}) and score, sorted by score; '
                f'labels (1, K); raw head maps {names[2]}..{names[-1]} (for checking)',
                nms,
                "post-step: divide boxes by the pipeline's scale_factor (w_scale, h_scale,"
                ' w_scale, h_scale) to get original-image pixels']
    if task == 'seg':
        return [f'outputs: seg_logits (1, C, {h}, {w}) (decode head, resized to the input '
                f'as encode_decode does) and seg_map (1, {h}, {w}) = their argmax',
                'post-step for the original image: crop the padding, bilinear resize of '
                'seg_logits to the original size, argmax (mmseg postprocess_result)']
    return ['outputs: cls_score (1, num_classes) logits, pred_score = their softmax',
            'post-step: none']


if __name__ == '__main__':
    sys.exit(main())
