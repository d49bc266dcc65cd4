"""CPU benchmark of the mmhad backbones against the backbones a user would pick instead.

For every model (mmhad: EMO 1m/2m/5m/6m, EfficientMod xxs/xs/s/s_conv, HadaptiveNet
s/m/l, HadamardMobileNetV3 small; peers from mmpretrain: MobileNetV2 1.0, MobileNetV3
small/large, ResNet-18, EfficientFormer-l1) and every input size it measures

* parameters (backbone only, as built by ``MODELS.build(dict(type=..., arch=...))``);
* FLOPs at batch 1 (mmengine ``FlopAnalyzer``: one multiply-add = one FLOP, the
  fvcore/mmengine convention used by mmpretrain's model zoo; attention
  ``scaled_dot_product_attention`` is counted by a handle added here, elementwise
  ops such as activations are not counted);
* latency at batch 1 (median wall time of ``--repeat`` forwards after ``--warmup``
  forwards, ``torch.inference_mode``) and throughput at the other batch sizes
  (images / median batch time);
* peak memory: growth of the process's resident set (VmHWM - VmRSS, Linux) during the
  warm-up and timed forwards, above the RSS with the model and the input already
  resident. Each model runs in its own fresh Python process; before each measurement
  the peak is reset (``/proc/self/clear_refs``) and freed heap pages are returned to
  the OS (``malloc_trim``), so the number is the activation/workspace memory the
  forward pass really needs from the OS.

``--configs`` adds whole mmdet/mmseg/mmpretrain configs: inference (``test_step``: data
preprocessor + forward + post-processing) at batch 1 and one training iteration
(``train_step``: preprocessor + forward + loss + backward + optimizer step with the
config's optimizer) on synthetic inputs, at the config's own input size.

``--scaling [HxW ...]`` (default 512x512 768x768 1024x1024 1024x2048) measures batch-1
latency and peak memory of the chosen backbones at each size in the same run, fits
``latency ∝ pixels^a`` and ``memory ∝ pixels^b`` on log-log axes and checks the largest
size against ``--memory-budget-gib`` (a "Scaling" table, ``scaling`` in the JSON and
``scaling.png``).

``--deploy`` also times the deploy form (``switch_to_deploy()`` on a copy of the model:
Conv+BN fused, ...) and ``--onnxruntime`` an ONNX export run by ONNX Runtime's CPU
provider (backbones: ``tools/deployment/export_onnx.py``'s graph, every batch size;
whole models: ``--whole-model``'s graph, batch 1), in the same process right after
PyTorch, with as many threads; a "Runtimes" table gives them beside PyTorch's training
form with the ratios.

``--paired ROUNDS`` also times every model against ``--baseline`` in one process, in
interleaved rounds (order reversed every other round, one ratio per round; with the
``--deploy`` / ``--onnxruntime`` forms), and every ``--configs`` config against its
task's baseline config (``test_step`` and ``train_step``): ratios that a drifting machine
does not move (a "Paired" section; ``benchmarking/paired.py``).

Writes ``benchmark.md`` (also printed), ``benchmark.json`` (raw numbers) and
``benchmark.png`` (latency vs params and vs FLOPs) to ``--out-dir``.

Example::

    python tools/analysis/benchmark.py --sizes 224 512 --out-dir work_dirs/benchmark
    python tools/analysis/benchmark.py --models EMO-1m MobileNetV3 --sizes 224 \\
        --configs configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py \\
        mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py
    python tools/analysis/benchmark.py --models EMO-1m --sizes 224 --threads 2 \\
        --onnxruntime --deploy --configs configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py
    python tools/analysis/benchmark.py --models EMO-1m EfficientMod-s --scaling \\
        --threads 2 --repeat 3 --no-plot

The measuring, the workers, the synthetic inputs and the report live in the importable
package ``tools/analysis/benchmarking/`` (``meters``, ``runners``, ``paired``, ``inputs``,
``report``, ``zoo``); this file is its command line.
"""
import argparse
import json
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)  # run as a script from anywhere: `tools` is importable

from tools.analysis.benchmarking.report import make_plot, make_report  # noqa: E402
from tools.analysis.benchmarking.runners import run_worker, worker_main  # noqa: E402
from tools.analysis.benchmarking.scaling import (  # noqa: E402
    DEFAULT_SCALING_SIZES, make_scaling_plot, scaling_summary)
from tools.analysis.benchmarking.zoo import (DEFAULT_BASELINE, MODEL_ZOO,  # noqa: E402
                                             select_models)

__all__ = ['DEFAULT_BASELINE', 'MODEL_ZOO', 'select_models', 'make_report', 'make_plot',
           'run_worker', 'parse_args', 'parse_size', 'config_name', 'main',
           'scaling_summary', 'DEFAULT_SCALING_SIZES']


def parse_size(text):
    text = str(text).lower()
    if 'x' in text:
        h, w = text.split('x')
        return int(h), int(w)
    return int(text), int(text)


def config_name(path):
    return osp.splitext(osp.basename(path.split('::')[-1]))[0]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='CPU params / FLOPs / latency / throughput / memory of the mmhad '
        'backbones and their peers (and optionally whole det/seg configs).')
    parser.add_argument('--models', nargs='*', default=None,
                        help='model names to run (exact, glob or case-insensitive '
                        'substring, e.g. EMO-1m "EfficientMod-*" MobileNet); default: all')
    parser.add_argument('--baseline', default=DEFAULT_BASELINE,
                        help='model the ratio columns divide by (added to the run if '
                        f'--models leaves it out; "none" for no ratios). Default: '
                        f'{DEFAULT_BASELINE}')
    parser.add_argument('--sizes', nargs='+', default=None,
                        help='square input sizes, or HxW (default: 224 512; none when '
                        '--scaling is given)')
    parser.add_argument('--scaling', nargs='*', default=None, metavar='HxW',
                        help='also measure batch-1 latency and peak memory at each of '
                        'these sizes and fit latency ∝ pixels^a, memory ∝ pixels^b '
                        '(a "Scaling" table). Without values: '
                        + ' '.join(DEFAULT_SCALING_SIZES) + '. Alone (without '
                        '--sizes) it runs only this study')
    parser.add_argument('--memory-budget-gib', type=float, default=4.0,
                        help='--scaling: whether the whole process\'s peak RSS at the '
                        'largest size stays within this. Default: 4')
    parser.add_argument('--batch-sizes', nargs='+', type=int, default=[1, 32],
                        help='batch 1 gives latency (ms), others throughput (img/s). '
                        'Default: 1 32')
    parser.add_argument('--repeat', type=int, default=10,
                        help='timed runs per measurement (median). Default: 10')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed runs before timing. Default: 3')
    parser.add_argument('--max-seconds', type=float, default=20.,
                        help='stop timing a measurement after this many seconds once '
                        '3 runs are in. Default: 20')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch intra-op threads (default: torch\'s default, the '
                        'number of physical cores)')
    parser.add_argument('--configs', nargs='*', default=[],
                        help='det/seg/cls configs to benchmark whole (files or '
                        'pkg::path, e.g. mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-'
                        '600e_coco.py)')
    parser.add_argument('--config-baseline', default=None,
                        help='config (name or path) the config ratios divide by; default '
                        'per task: the first upstream pkg:: config')
    parser.add_argument('--config-size', default=None,
                        help='input size for --configs (default: each config\'s own '
                        'crop_size / test Resize scale)')
    parser.add_argument('--config-train-batch-size', type=int, default=2,
                        help='batch of the training iteration. Default: 2')
    parser.add_argument('--config-train-repeat', type=int, default=3,
                        help='timed training iterations; 0 skips training. Default: 3')
    parser.add_argument('--onnxruntime', action='store_true',
                        help='also time an ONNX export in ONNX Runtime (CPU provider, the '
                        'same threads): backbones at every batch size, whole models '
                        '(--configs) at batch 1, with the ratio to PyTorch')
    parser.add_argument('--deploy', action='store_true',
                        help='also time the deploy form (switch_to_deploy()) beside the '
                        'training form, with the ratio; with --onnxruntime the ONNX graph '
                        'is exported from the deploy form')
    parser.add_argument('--paired', type=int, default=0, metavar='ROUNDS',
                        help='also time every model against --baseline in ONE process, '
                        'in ROUNDS interleaved rounds (order reversed every other round; '
                        'a ratio per round), at --sizes and --batch-sizes, with the '
                        '--deploy / --onnxruntime forms, and every --configs config '
                        'against its task\'s baseline config (test_step and train_step): '
                        'ratios that machine drift does not move (a "Paired" table). '
                        '0: off. Default: 0')
    parser.add_argument('--paired-calls', type=int, default=5,
                        help='--paired: timed calls per form per round (their median '
                        'is the round\'s time). Default: 5')
    parser.add_argument('--timeout', type=int, default=1800,
                        help='seconds per model/config process. Default: 1800')
    parser.add_argument('--out-dir', default='work_dirs/benchmark',
                        help='where benchmark.md/.json/.png go. Default: '
                        'work_dirs/benchmark')
    parser.add_argument('--no-plot', action='store_true', help='skip benchmark.png')
    args = parser.parse_args(argv)
    if args.scaling is not None and not args.scaling:
        args.scaling = list(DEFAULT_SCALING_SIZES)
    if args.sizes is None:
        args.sizes = [] if args.scaling is not None else ['224', '512']
    if args.paired < 0 or args.paired_calls < 1:
        parser.error(f'--paired must be >= 0 (0 = off) and --paired-calls >= 1, got '
                     f'{args.paired} and {args.paired_calls}')
    if args.paired and (not args.baseline or args.baseline.lower() == 'none'):
        parser.error('--paired times every model against --baseline: name one '
                     '(e.g. --baseline MobileNetV3-small), not "none"')
    if args.paired and not args.sizes:
        parser.error('--paired times at --sizes: give at least one (e.g. --sizes 224)')
    return args



def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ['--worker']:
        worker_main(argv[1], argv[2])
        return None
    args = parse_args(argv)
    if args.onnxruntime:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise SystemExit('--onnxruntime needs the onnxruntime package: '
                             'pip install onnxruntime (and onnx)') from None
    sizes = [parse_size(s) for s in args.sizes]
    scaling = [parse_size(s) for s in args.scaling or []]
    models = select_models(args.models, args.baseline)
    common = dict(threads=args.threads, warmup=args.warmup, repeat=args.repeat,
                  max_seconds=args.max_seconds, deploy=args.deploy,
                  onnxruntime=args.onnxruntime)
    specs = [dict(kind='model', name=name, family=family, library=lib, cfg=cfg,
                  sizes=sizes, batch_sizes=args.batch_sizes, scaling=scaling, **common)
             for name, family, lib, cfg in models]
    config_size = parse_size(args.config_size) if args.config_size else None
    names = [config_name(p) for p in args.configs]
    for path, name in zip(args.configs, names):
        if names.count(name) > 1:  # same basename from two places
            name = path
        specs.append(dict(kind='config', name=name, path=path, size=config_size,
                          train_batch_size=args.config_train_batch_size,
                          train_repeat=args.config_train_repeat, **common))

    from mmengine.utils import ProgressBar
    base_entry = next((m for m in models if m[0].lower() == args.baseline.lower()),
                      None) if args.paired else None
    if base_entry is not None:  # --paired: one more process per model, with the baseline
        base_side = dict(name=base_entry[0], library=base_entry[2], cfg=base_entry[3])
        specs += [dict(kind='paired', name=name, model=dict(name=name, library=lib,
                                                            cfg=cfg),
                       baseline=base_side, sizes=sizes, batch_sizes=args.batch_sizes,
                       rounds=args.paired, calls=args.paired_calls, **common)
                  for name, _, lib, cfg in models if name != base_entry[0]]
    print(f'Benchmarking {len(specs)} model(s)/config(s)/pair(s), one process each ...',
          file=sys.stderr)
    load = [os.getloadavg()[0] if hasattr(os, 'getloadavg') else None]
    bar = ProgressBar(len(specs), file=sys.stderr)
    model_results, config_results, paired_results = [], [], []
    for spec in specs:
        res = run_worker(spec, args.timeout)
        if spec['kind'] == 'model':
            res.update(family=spec['family'], library=spec['library'])
            model_results.append(res)
        elif spec['kind'] == 'paired':
            res.setdefault('baseline', spec['baseline']['name'])
            paired_results.append(res)
        else:
            res.setdefault('path', spec['path'])
            config_results.append(res)
        bar.update()
    sys.stderr.write('\n')
    if args.paired and config_results:
        # each config against its task's baseline config (as the config table pairs them)
        from tools.analysis.benchmarking.report import pick_config_baselines
        baselines = pick_config_baselines(config_results, args.config_baseline)
        pairs = [(res, baselines[res.get('task')]) for res in config_results
                 if res.get('ok') and baselines.get(res.get('task')) not in (None, res)]
        if pairs:
            print(f'Pairing {len(pairs)} config(s) with their baseline, one process '
                  'each ...', file=sys.stderr)
        for res, base in pairs:
            spec = dict(kind='paired_config', name=res['name'],
                        model=dict(name=res['name'], path=res['path']),
                        baseline=dict(name=base['name'], path=base['path']),
                        size=config_size, train_batch_size=args.config_train_batch_size,
                        train_repeat=args.config_train_repeat, rounds=args.paired,
                        calls=args.paired_calls, **common)
            out = run_worker(spec, args.timeout)
            out.setdefault('baseline', base['name'])
            paired_results.append(out)
    load.append(os.getloadavg()[0] if hasattr(os, 'getloadavg') else None)

    os.makedirs(args.out_dir, exist_ok=True)
    command = 'python tools/analysis/benchmark.py ' + ' '.join(argv)
    summary = scaling_summary(model_results, scaling, args.memory_budget_gib) \
        if scaling else None
    report = make_report(args, model_results, config_results, sizes, command,
                         scaling=summary, load=load, paired=paired_results)
    with open(osp.join(args.out_dir, 'benchmark.md'), 'w') as f:
        f.write(report)
    with open(osp.join(args.out_dir, 'benchmark.json'), 'w') as f:
        json.dump(dict(args=vars(args), command=command, load_avg_1min=load,
                       models=model_results, configs=config_results, scaling=summary,
                       paired=paired_results),
                  f, indent=1)
    if not args.no_plot:
        if sizes:
            make_plot(model_results, sizes, args.batch_sizes,
                      args.baseline, osp.join(args.out_dir, 'benchmark.png'))
        if summary and summary['models']:
            make_scaling_plot(summary, osp.join(args.out_dir, 'scaling.png'))
    print(report)
    return dict(report=report, models=model_results, configs=config_results,
                scaling=summary, paired=paired_results)


if __name__ == '__main__':
    main()
