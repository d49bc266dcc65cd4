"""Export an mmhad backbone (or the ACH layer) to ONNX and check it with onnxruntime.

    python tools/deployment/export_onnx.py CONFIG [--checkpoint CKPT] --shape 224 224 \\
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
        description='Export an mmhad backbone or the ACH layer to ONNX and check it.')
    parser.add_argument('config', nargs='?', help='config whose model.backbone is exported')
    parser.add_argument('--backbone', help='backbone type instead of a config, e.g. EMO, '
                        'EfficientMod, HadaptiveNet')
    parser.add_argument('--arch', help='arch of --backbone, e.g. 1m, xxs, s')
    parser.add_argument('--ach', nargs=2, type=int, metavar=('C1', 'CS'),
                        help='export the ACH layer with C1 input and CS selected channels')
    parser.add_argument('--ach-norm', default='BN', help='ACH product norm (default BN)')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='extra backbone / ACH arguments, e.g. out_indices=3')
    parser.add_argument('--checkpoint', help='weights to export (default: random)')
    parser.add_argument('--shape', nargs=2, type=int, default=[224, 224],
                        metavar=('H', 'W'), help='input height and width (default 224)')
    parser.add_argument('--in-channels', type=int, default=None,
                        help='input channels (default: the model\'s, 3 for backbones)')
    parser.add_argument('--batch', type=int, default=1, help='batch used for tracing and '
                        'checking; batch + 1 is checked as well (default 1)')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument('--opset', type=int, default=OPSET)
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='largest accepted relative error (default 1e-4)')
    parser.add_argument('--no-check', action='store_true',
                        help='skip the onnxruntime comparison')
    args = parser.parse_args(argv)
    chosen = [bool(args.config), bool(args.backbone), bool(args.ach)]
    if sum(chosen) != 1:
        parser.error('give exactly one of CONFIG, --backbone TYPE or --ach C1 CS')
    if args.arch and not args.backbone:
        parser.error('--arch goes with --backbone')
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
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        cfg = Config.fromfile(args.config)
        if 'backbone' not in cfg.get('model', {}):
            raise ValueError(f'{args.config} has no model.backbone to export.')
        backbone = dict(cfg.model.backbone)
        init_default_scope(cfg.get('default_scope') or 'mmengine')
    else:
        backbone = dict(type=args.backbone)
        if args.arch:
            backbone['arch'] = args.arch
    backbone.update(options)
    backbone['init_cfg'] = None  # pretrained files need not exist to export
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
    over ``batches`` as a list of floats."""
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


def main(argv=None):
    args = parse_args(argv)
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
    export(module, args.out, shape, in_channels, args.batch, args.opset)
    print(f'exported {name} at input (batch, {in_channels}, {shape[0]}, {shape[1]}) '
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


if __name__ == '__main__':
    sys.exit(main())
