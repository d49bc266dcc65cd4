"""CPU benchmark of the mmhad backbones against the backbones a user would pick instead.

For every model (mmhad: EMO 1m/2m/5m/6m, EfficientMod xxs/xs/s/s_conv, HadaptiveNet
s/m/l; peers from mmpretrain: MobileNetV2 1.0, MobileNetV3 small/large, ResNet-18,
EfficientFormer-l1) and every input size it measures

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

Writes ``benchmark.md`` (also printed), ``benchmark.json`` (raw numbers) and
``benchmark.png`` (latency vs params and vs FLOPs) to ``--out-dir``.

Example::

    python tools/analysis/benchmark.py --sizes 224 512 --out-dir work_dirs/benchmark
    python tools/analysis/benchmark.py --models EMO-1m MobileNetV3 --sizes 224 \\
        --configs configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py \\
        mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py
"""
import argparse
import copy
import datetime
import fnmatch
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# name, family, library ('mmhad' builds from mmengine's root MODELS after ``import
# mmhad``; 'mmpretrain' from ``mmpretrain.registry.MODELS``), model config.
MODEL_ZOO = [
    ('EMO-1m', 'EMO', 'mmhad', dict(type='EMO', arch='1m')),
    ('EMO-2m', 'EMO', 'mmhad', dict(type='EMO', arch='2m')),
    ('EMO-5m', 'EMO', 'mmhad', dict(type='EMO', arch='5m')),
    ('EMO-6m', 'EMO', 'mmhad', dict(type='EMO', arch='6m')),
    ('EfficientMod-xxs', 'EfficientMod', 'mmhad', dict(type='EfficientMod', arch='xxs')),
    ('EfficientMod-xs', 'EfficientMod', 'mmhad', dict(type='EfficientMod', arch='xs')),
    ('EfficientMod-s', 'EfficientMod', 'mmhad', dict(type='EfficientMod', arch='s')),
    ('EfficientMod-s_conv', 'EfficientMod', 'mmhad',
     dict(type='EfficientMod', arch='s_conv')),
    ('HadaptiveNet-s', 'HadaptiveNet', 'mmhad', dict(type='HadaptiveNet', arch='s')),
    ('HadaptiveNet-m', 'HadaptiveNet', 'mmhad', dict(type='HadaptiveNet', arch='m')),
    ('HadaptiveNet-l', 'HadaptiveNet', 'mmhad', dict(type='HadaptiveNet', arch='l')),
    ('MobileNetV2-1.0', 'MobileNetV2', 'mmpretrain',
     dict(type='MobileNetV2', widen_factor=1.0)),
    ('MobileNetV3-small', 'MobileNetV3', 'mmpretrain',
     dict(type='MobileNetV3', arch='small')),
    ('MobileNetV3-large', 'MobileNetV3', 'mmpretrain',
     dict(type='MobileNetV3', arch='large')),
    ('ResNet-18', 'ResNet', 'mmpretrain', dict(type='ResNet', depth=18)),
    ('EfficientFormer-l1', 'EfficientFormer', 'mmpretrain',
     dict(type='EfficientFormer', arch='l1')),
]
DEFAULT_BASELINE = 'MobileNetV3-large'
MIB = 1024 * 1024


# --------------------------------------------------------------------------------------
# Measurement helpers (run inside the worker process)
# --------------------------------------------------------------------------------------
def _proc_status_kib(key):
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakMemory:
    """Peak RSS growth of this process over a code section, in bytes.

    Linux: reset the high-water mark (``echo 5 > /proc/self/clear_refs``), give freed
    heap pages back (``malloc_trim(0)``), then ``VmHWM`` after - ``VmRSS`` before.
    Elsewhere: ``ru_maxrss`` after - before (only correct when the section sets a new
    peak for the process, which is why every model runs in a fresh process).
    """

    def __init__(self):
        self.method = 'VmHWM-VmRSS'
        try:
            import ctypes
            self._trim = ctypes.CDLL('libc.so.6').malloc_trim
        except (OSError, AttributeError):
            self._trim = None
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
            if _proc_status_kib('VmHWM') is None:
                raise OSError
        except OSError:
            self.method = 'ru_maxrss'

    def __enter__(self):
        import gc
        gc.collect()
        if self._trim is not None:
            self._trim(0)
        if self.method == 'VmHWM-VmRSS':
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
            self._start = _proc_status_kib('VmRSS') * 1024
        else:
            import resource
            self._start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.peak = None
        return self

    def __exit__(self, *exc):
        if self.method == 'VmHWM-VmRSS':
            end = _proc_status_kib('VmHWM') * 1024
        else:
            import resource
            end = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.peak = max(0, end - self._start)
        return False


def time_runs(fn, warmup, repeat, max_seconds):
    """Seconds per call: ``warmup`` untimed calls, then up to ``repeat`` timed calls.

    Warm-up stops after one call when a call takes more than ``max_seconds / 10``; the
    timed loop stops early once ``max_seconds`` have passed and at least
    ``min(3, repeat)`` calls are timed.
    """
    for _ in range(warmup):
        t0 = time.perf_counter()
        fn()
        if time.perf_counter() - t0 > max_seconds / 10:
            break
    times = []
    start = time.perf_counter()
    while len(times) < max(1, repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > max_seconds and len(times) >= min(3, repeat):
            break
    return times


def _short_error(exc):
    text = f'{type(exc).__name__}: {exc}'.strip().replace('\n', ' ')
    return text if len(text) <= 300 else text[:297] + '...'


def _env_info(torch):
    return dict(torch=torch.__version__, threads=torch.get_num_threads(),
                python=platform.python_version())


def bench_backbone(spec):
    """Worker: build one backbone and measure it at every size and batch size."""
    result = dict(name=spec['name'], kind='model', ok=False)
    import torch
    if spec.get('threads'):
        torch.set_num_threads(spec['threads'])
    torch.manual_seed(0)
    result.update(_env_info(torch))
    try:
        if spec['library'] == 'mmhad':
            from mmengine.registry import MODELS
            import mmhad  # noqa: F401  (registers the mmhad backbones)
        else:
            from mmpretrain.registry import MODELS
        model = MODELS.build(copy.deepcopy(spec['cfg']))
    except Exception as exc:  # noqa: BLE001  (skipped with a note in the report)
        result['error'] = 'build failed: ' + _short_error(exc)
        return result
    model.eval()
    result['ok'] = True
    result['params'] = sum(p.numel() for p in model.parameters())
    result['sizes'] = {}
    for size in spec['sizes']:
        h, w = size
        entry = dict(batch={})
        result['sizes'][f'{h}x{w}'] = entry
        try:
            from mmhad.utils.flops import count_flops  # attention matmuls included
            with torch.inference_mode():
                entry['flops'], entry['unsupported_ops'] = count_flops(
                    model, (torch.randn(1, 3, h, w),))
        except Exception as exc:  # noqa: BLE001
            entry['flops_error'] = _short_error(exc)
        for bs in spec['batch_sizes']:
            try:
                x = torch.randn(bs, 3, h, w)
                with torch.inference_mode(), PeakMemory() as mem:
                    times = time_runs(lambda: model(x), spec['warmup'], spec['repeat'],
                                      spec['max_seconds'])
                del x
                med = statistics.median(times)
                entry['batch'][str(bs)] = dict(
                    median_s=med, runs=len(times), min_s=min(times),
                    images_per_s=bs / med, peak_mem=mem.peak)
                result['mem_method'] = mem.method
            except Exception as exc:  # noqa: BLE001
                entry['batch'][str(bs)] = dict(error=_short_error(exc))
    return result


# ---- whole configs -------------------------------------------------------------------
def load_config(path):
    """A config file, or ``pkg::rel/path.py`` from an installed OpenMMLab package."""
    from mmengine.config import Config
    if '::' in path and not osp.isfile(path):
        from mmengine.hub import get_config
        return get_config(path)
    return Config.fromfile(path)


def _strip_pretrained(model_cfg):
    """No checkpoint downloads: drop ``pretrained`` and every ``init_cfg``."""
    if isinstance(model_cfg, dict):
        if 'pretrained' in model_cfg:
            model_cfg['pretrained'] = None
        if model_cfg.get('init_cfg') is not None:
            model_cfg['init_cfg'] = None
        for v in model_cfg.values():
            _strip_pretrained(v)
    elif isinstance(model_cfg, (list, tuple)):
        for v in model_cfg:
            _strip_pretrained(v)


def _synthetic_batch(scope, model_cfg, h, w, batch_size, train):
    import torch
    inputs = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8)
              for _ in range(batch_size)]
    samples = []
    for _ in range(batch_size):
        meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                    scale_factor=(1.0, 1.0), flip=False, flip_direction=None)
        if scope == 'mmdet':
            from mmdet.structures import DetDataSample
            from mmengine.structures import InstanceData
            sample = DetDataSample(metainfo=meta)
            if train:
                from mmdet.structures.bbox import HorizontalBoxes
                head = model_cfg.get('bbox_head') or model_cfg.get('roi_head', {}).get(
                    'bbox_head', {})
                num_classes = head.get('num_classes', 80) if isinstance(head, dict) \
                    else 80
                n = 3
                xy = torch.rand(n, 2) * torch.tensor([w * 0.6, h * 0.6])
                wh = torch.rand(n, 2) * torch.tensor([w * 0.3, h * 0.3]) + 8
                gt = InstanceData()
                gt.bboxes = HorizontalBoxes(torch.cat([xy, xy + wh], dim=1))
                gt.labels = torch.randint(0, num_classes, (n, ))
                roi = model_cfg.get('roi_head') or {}
                if isinstance(roi, dict) and roi.get('mask_head'):
                    import numpy as np
                    from mmdet.structures.mask import BitmapMasks
                    masks = np.zeros((n, h, w), dtype=np.uint8)
                    for i, (x1, y1, x2, y2) in enumerate(gt.bboxes.tensor.int().tolist()):
                        masks[i, y1:y2, x1:x2] = 1
                    gt.masks = BitmapMasks(masks, h, w)
                sample.gt_instances = gt
                sample.ignored_instances = InstanceData(
                    bboxes=HorizontalBoxes(torch.zeros(0, 4)),
                    labels=torch.zeros(0, dtype=torch.long))
        elif scope == 'mmseg':
            from mmengine.structures import PixelData
            from mmseg.structures import SegDataSample
            sample = SegDataSample(metainfo=meta)
            num_classes = model_cfg.get('decode_head', {}).get('num_classes', 150)
            sample.gt_sem_seg = PixelData(
                data=torch.randint(0, num_classes, (1, h, w), dtype=torch.long))
        elif scope == 'mmpretrain':
            from mmpretrain.structures import DataSample
            sample = DataSample(metainfo=meta)
            num_classes = model_cfg.get('head', {}).get('num_classes', 1000)
            sample.set_gt_label(int(torch.randint(0, num_classes, ()).item()))
        else:
            raise ValueError(f'unsupported default_scope {scope!r}')
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def bench_config(spec):
    """Worker: one config, inference (batch 1) and one training iteration."""
    result = dict(name=spec['name'], kind='config', path=spec['path'], ok=False)
    import torch
    from torch import nn
    if spec.get('threads'):
        torch.set_num_threads(spec['threads'])
    torch.manual_seed(0)
    result.update(_env_info(torch))
    try:
        try:
            import mmhad  # noqa: F401  (mmhad types; SSDHeadWithPredict)
        except Exception as exc:  # noqa: BLE001  upstream configs still work without it
            result['note'] = 'import mmhad failed: ' + _short_error(exc)
        from mmengine.model import revert_sync_batchnorm
        from mmengine.registry import MODELS, init_default_scope
        cfg = load_config(spec['path'])
        scope = cfg.get('default_scope', 'mmdet')
        result['task'] = scope
        init_default_scope(scope)
        model_cfg = copy.deepcopy(cfg.model)
        _strip_pretrained(model_cfg)
        from mmhad.utils.config_model import input_size
        h, w = spec.get('size') or input_size(cfg, default=(512, 512))
        pre = model_cfg.get('data_preprocessor')
        if spec.get('size') and isinstance(pre, dict) and pre.get('size'):
            pre['size'] = (h, w)  # mmseg pads every training batch to this size
        head = model_cfg.get('bbox_head')
        if isinstance(head, dict) and head.get('type') == 'SSDHead':
            # mmdet 3.3's SSDHead cannot predict (no loss_cls attribute).
            head['type'] = 'SSDHeadWithPredict'
            result['note'] = (result.get('note', '') +
                              ' bbox_head SSDHead -> SSDHeadWithPredict.').strip()
        model = revert_sync_batchnorm(MODELS.build(model_cfg))
    except Exception as exc:  # noqa: BLE001
        result['error'] = 'build failed: ' + _short_error(exc)
        return result
    result['ok'] = True
    result['size'] = f'{h}x{w}'
    result['params'] = sum(p.numel() for p in model.parameters())

    # FLOPs of the network alone (tensor mode: no preprocessing / post-processing).
    model.eval()
    try:
        data = _synthetic_batch(scope, model_cfg, h, w, 1, train=False)
        with torch.inference_mode():
            data = model.data_preprocessor(data, False)

        class _Tensor(nn.Module):

            def __init__(self, net, samples):
                super().__init__()
                self.net = net
                self.samples = samples

            def forward(self, x):
                return self.net._forward(x, self.samples)

        from mmhad.utils.flops import count_flops  # attention matmuls included
        with torch.inference_mode():
            result['flops'], result['unsupported_ops'] = count_flops(
                _Tensor(model, data['data_samples']), (data['inputs'], ))
    except Exception as exc:  # noqa: BLE001
        result['flops_error'] = _short_error(exc)

    try:
        data = _synthetic_batch(scope, model_cfg, h, w, 1, train=False)
        with torch.inference_mode(), PeakMemory() as mem:
            times = time_runs(lambda: model.test_step(data), spec['warmup'],
                              spec['repeat'], spec['max_seconds'])
        result['infer'] = dict(median_s=statistics.median(times), runs=len(times),
                               peak_mem=mem.peak, batch_size=1)
        result['mem_method'] = mem.method
    except Exception as exc:  # noqa: BLE001
        result['infer'] = dict(error=_short_error(exc))

    try:
        from mmengine.optim import build_optim_wrapper
        model.train()
        try:
            optim_wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
        except Exception:  # noqa: BLE001  e.g. AMP wrapper on CPU
            from mmengine.optim import OptimWrapper
            optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))
            result['note'] = (result.get('note', '') + ' optimizer: SGD fallback.').strip()
        bs = spec['train_batch_size']
        data = _synthetic_batch(scope, model_cfg, h, w, bs, train=True)
        with PeakMemory() as mem:
            times = time_runs(lambda: model.train_step(data, optim_wrapper),
                              min(spec['warmup'], 1), spec['train_repeat'],
                              spec['max_seconds'])
        result['train'] = dict(median_s=statistics.median(times), runs=len(times),
                               peak_mem=mem.peak, batch_size=bs)
    except Exception as exc:  # noqa: BLE001
        result['train'] = dict(error=_short_error(exc))
    return result


def worker_main(spec_path, out_path):
    with open(spec_path) as f:
        spec = json.load(f)
    if spec['kind'] == 'model':
        spec['sizes'] = [tuple(s) for s in spec['sizes']]
        result = bench_backbone(spec)
    else:
        result = bench_config(spec)
    with open(out_path, 'w') as f:
        json.dump(result, f)


# --------------------------------------------------------------------------------------
# Driver (parent process): one fresh subprocess per model / config
# --------------------------------------------------------------------------------------
def parse_size(text):
    text = str(text).lower()
    if 'x' in text:
        h, w = text.split('x')
        return int(h), int(w)
    return int(text), int(text)


def select_models(patterns, baseline):
    if not patterns:
        chosen = list(MODEL_ZOO)
    else:
        chosen = []
        for entry in MODEL_ZOO:
            name = entry[0].lower()
            if any(p.lower() == name or fnmatch.fnmatch(name, p.lower()) or
                   p.lower() in name for p in patterns):
                chosen.append(entry)
        if not chosen:
            raise SystemExit(f'--models {patterns} matches none of '
                             f'{[m[0] for m in MODEL_ZOO]}')
    if baseline and baseline.lower() != 'none':
        names = [m[0].lower() for m in chosen]
        if baseline.lower() not in names:
            extra = [m for m in MODEL_ZOO if m[0].lower() == baseline.lower()]
            if not extra:
                raise SystemExit(f'--baseline {baseline!r} is not one of '
                                 f'{[m[0] for m in MODEL_ZOO]} (or "none")')
            chosen = chosen + extra
    return chosen


def run_worker(spec, timeout):
    with tempfile.TemporaryDirectory(prefix='mmhad_bench_') as tmp:
        spec_path = osp.join(tmp, 'spec.json')
        out_path = osp.join(tmp, 'result.json')
        with open(spec_path, 'w') as f:
            json.dump(spec, f)
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [REPO] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
        env.setdefault('PYTHONWARNINGS', 'ignore')
        try:
            proc = subprocess.run(
                [sys.executable, osp.abspath(__file__), '--worker', spec_path, out_path],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return dict(name=spec['name'], kind=spec['kind'], ok=False,
                        error=f'timed out after {timeout} s')
        if proc.returncode != 0 or not osp.isfile(out_path):
            tail = (proc.stderr or proc.stdout or '').strip().splitlines()[-3:]
            return dict(name=spec['name'], kind=spec['kind'], ok=False,
                        error=f'worker exited {proc.returncode}: ' + ' | '.join(tail))
        with open(out_path) as f:
            return json.load(f)


def config_name(path):
    return osp.splitext(osp.basename(path.split('::')[-1]))[0]


# ---- formatting ----------------------------------------------------------------------
def _fmt(value, digits=2):
    if value is None:
        return '–'
    if isinstance(value, str):
        return value
    return f'{value:.{digits}f}'


def _ratio(value, base):
    if value is None or not base:
        return '–'
    return f'{value / base:.2f}'


def _mib(nbytes):
    return None if nbytes is None else nbytes / MIB


def batch_columns(batch_sizes):
    """(column title, key, ratio) for every batch size: latency at 1, else img/s."""
    cols = []
    for bs in batch_sizes:
        if bs == 1:
            cols.append(('Latency bs1 (ms)', 1, 'lat'))
        else:
            cols.append((f'Throughput bs{bs} (img/s)', bs, 'thr'))
    return cols


def model_table(results, size_key, batch_sizes, baseline):
    """Markdown table of one input size (rows: models)."""
    cols = batch_columns(batch_sizes)
    header = ['Model', 'Params (M)', 'FLOPs (G)', 'FLOPs ×']
    for title, bs, kind in cols:
        header += [title, 'Latency ×' if kind == 'lat' else 'Throughput ×']
    header += [f'Peak mem bs{bs} (MiB)' for bs in batch_sizes]

    def cell(res, bs, key):
        entry = res.get('sizes', {}).get(size_key, {}).get('batch', {}).get(str(bs), {})
        if key == 'lat':
            return None if 'median_s' not in entry else entry['median_s'] * 1e3
        if key == 'thr':
            return entry.get('images_per_s')
        return _mib(entry.get('peak_mem'))

    base = next((r for r in results if r['ok'] and r['name'] == baseline), None)
    rows = []
    for res in results:
        if not res['ok']:
            continue
        size = res.get('sizes', {}).get(size_key, {})
        flops = size.get('flops')
        base_flops = base and base['sizes'].get(size_key, {}).get('flops')
        name = res['name'] + (' (baseline)' if base is res else '')
        row = [name, f"{res['params'] / 1e6:.3f}",
               _fmt(None if flops is None else flops / 1e9, 3), _ratio(flops, base_flops)]
        for _, bs, kind in cols:
            value = cell(res, bs, kind)
            row += [_fmt(value, 1 if kind == 'thr' else 2),
                    _ratio(value, base and cell(base, bs, kind))]
        row += [_fmt(cell(res, bs, 'mem'), 1) for bs in batch_sizes]
        rows.append(row)
    return _markdown(header, rows)


def config_table(results, baselines, train_batch_size):
    header = ['Config', 'Task', 'Input', 'Params (M)', 'FLOPs (G)', 'Infer bs1 (ms)',
              'Infer ×', f'Train iter bs{train_batch_size} (ms)', 'Train ×',
              'Peak mem infer (MiB)', 'Peak mem train (MiB)']
    rows = []
    for res in results:
        if not res['ok']:
            continue
        base = baselines.get(res.get('task'))
        infer, train = res.get('infer', {}), res.get('train', {})

        def ms(d):
            return None if 'median_s' not in d else d['median_s'] * 1e3

        b_inf = ms(base.get('infer', {})) if base else None
        b_tr = ms(base.get('train', {})) if base else None
        flops = res.get('flops')
        name = res['name'] + (' (baseline)' if base is res else '')
        rows.append([
            name, res.get('task', '').replace('mm', ''), res.get('size', '–'),
            f"{res['params'] / 1e6:.3f}",
            _fmt(None if flops is None else flops / 1e9, 2), _fmt(ms(infer), 1),
            _ratio(ms(infer), b_inf),
            _fmt(ms(train), 1), _ratio(ms(train), b_tr), _fmt(_mib(infer.get('peak_mem')), 1),
            _fmt(_mib(train.get('peak_mem')), 1)])
    return _markdown(header, rows)


def _markdown(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '|'.join(['---'] + ['---:'] * (len(header) - 1)) + '|']
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines)


def pick_config_baselines(results, wanted):
    """Per task: ``--config-baseline`` if it is of that task, else the first upstream
    (``pkg::``) config, else the first config."""
    baselines = {}
    for res in results:
        if not res['ok']:
            continue
        task = res.get('task')
        cur = baselines.get(task)
        if wanted and wanted in (res['name'], res['path']):
            baselines[task] = res
        elif cur is None:
            baselines[task] = res
        elif (not (wanted and wanted in (cur['name'], cur['path'])) and
              '::' in res['path'] and '::' not in cur['path']):
            baselines[task] = res
    return baselines


def cpu_name():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_report(args, model_results, config_results, sizes, command):
    ok = [r for r in model_results + config_results if r.get('ok')]
    threads = ok[0]['threads'] if ok else args.threads
    torch_version = ok[0]['torch'] if ok else '?'
    mem_method = next((r['mem_method'] for r in ok if 'mem_method' in r), 'VmHWM-VmRSS')
    lines = ['# mmhad CPU benchmark', '',
             f'- Date: {datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}; command: '
             f'`{command}`',
             f'- CPU: {cpu_name()} ({os.cpu_count()} logical cores visible); '
             f'torch {torch_version}, **{threads} intra-op thread(s)**, float32, '
             f'`torch.inference_mode()`.',
             f'- Timing: {args.warmup} warm-up + median of up to {args.repeat} runs '
             f'(fewer when the runs pass {args.max_seconds:g} s; see `runs` in '
             f'benchmark.json). Latency = ms per batch-1 forward; throughput = '
             f'batch / median batch time.',
             '- Params: backbone only, as built (no classifier). FLOPs: batch 1, one '
             'multiply-add = 1 FLOP (mmengine FlopAnalyzer + attention); elementwise '
             'ops not counted.',
             f'- Peak mem: growth of the process RSS during warm-up + timed forwards '
             f'above the RSS with model and input loaded ({mem_method}; one fresh '
             f'process per model).']
    baseline = args.baseline if args.baseline and args.baseline.lower() != 'none' else None
    if baseline:
        lines.append(f'- Ratios (×) are against **{baseline}** in this run: '
                     f'latency × and FLOPs × < 1 and throughput × > 1 mean better '
                     f'than the baseline.')
    for size in sizes:
        key = f'{size[0]}x{size[1]}'
        lines += ['', f'## Backbones, input {size[0]}×{size[1]}', '',
                  model_table(model_results, key, args.batch_sizes, baseline)]
    if config_results:
        baselines = pick_config_baselines(config_results, args.config_baseline)
        lines += ['', '## Whole models (configs), synthetic inputs', '',
                  'Inference = `test_step` (data preprocessor + network + '
                  'post-processing) at batch 1; train iter = `train_step` (preprocessor '
                  '+ forward + loss + backward + optimizer step of the config) at batch '
                  f'{args.config_train_batch_size}; input = the config\'s own size. '
                  'Params/FLOPs: whole network (tensor mode, no post-processing). '
                  'Random weights: post-processing (NMS) cost may differ from a trained '
                'model. Ratios per task against: ' +
                  ', '.join(f'{t}: **{b["name"]}**' for t, b in baselines.items()) + '.',
                  '', config_table(config_results, baselines,
                                             args.config_train_batch_size)]
        lines += ['', 'Config files:', '']
        lines += [f'- {r["name"]}: `{r["path"]}`' for r in config_results]
    notes = []
    for res in model_results + config_results:
        if not res.get('ok'):
            notes.append(f'- **{res["name"]}: skipped** — {res.get("error")}')
            continue
        if res.get('note'):
            notes.append(f'- {res["name"]}: {res["note"]}')
        for key, entry in res.get('sizes', {}).items():
            if 'flops_error' in entry:
                notes.append(f'- {res["name"]} {key}: FLOPs failed — '
                             f'{entry["flops_error"]}')
            for bs, b in entry.get('batch', {}).items():
                if 'error' in b:
                    notes.append(f'- {res["name"]} {key} bs{bs}: failed — {b["error"]}')
        for key in ('infer', 'train'):
            if 'error' in res.get(key, {}):
                notes.append(f'- {res["name"]} {key}: failed — {res[key]["error"]}')
        if res.get('flops_error'):
            notes.append(f'- {res["name"]}: FLOPs failed — {res["flops_error"]}')
    if notes:
        lines += ['', '## Notes', ''] + notes
    return '\n'.join(lines) + '\n'


def make_plot(model_results, sizes, batch_sizes, baseline, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    class _PlainLog(ticker.LogFormatter):

        def _num_to_string(self, x, vmin, vmax):
            return f'{x:g}'

    bs = min(batch_sizes)
    ok = [r for r in model_results if r['ok']]
    families = list(dict.fromkeys(r.get('family', r['name']) for r in ok))
    cmap = plt.get_cmap('tab10')
    colors = {f: cmap(i % 10) for i, f in enumerate(families)}
    fig, axes = plt.subplots(len(sizes), 2, figsize=(14, 5.5 * len(sizes)), squeeze=False)
    for row, size in enumerate(sizes):
        key = f'{size[0]}x{size[1]}'
        for col, (xkey, xlabel) in enumerate([('params', 'Params (M)'),
                                              ('flops', 'FLOPs (G, batch 1)')]):
            ax = axes[row][col]
            for fam in families:
                pts = []
                for r in ok:
                    if r.get('family', r['name']) != fam:
                        continue
                    entry = r['sizes'].get(key, {})
                    t = entry.get('batch', {}).get(str(bs), {}).get('median_s')
                    x = r['params'] / 1e6 if xkey == 'params' else (
                        entry.get('flops') / 1e9 if entry.get('flops') else None)
                    if t is None or x is None:
                        continue
                    pts.append((x, t * 1e3, r['name']))
                if not pts:
                    continue
                pts.sort()
                mmhad_family = any(r.get('library') == 'mmhad' and
                                   r.get('family') == fam for r in ok)
                ax.plot([p[0] for p in pts], [p[1] for p in pts],
                        '-' if mmhad_family else ':', color=colors[fam], alpha=0.5)
                for x, y, name in pts:
                    is_base = name == baseline
                    ax.scatter([x], [y], color=colors[fam], s=140 if is_base else 50,
                               marker='*' if is_base else ('o' if mmhad_family else 's'),
                               edgecolors='black', linewidths=0.5, zorder=3,
                               label=None)
                    ax.annotate(name + (' (baseline)' if is_base else ''), (x, y),
                                textcoords='offset points', xytext=(5, 4), fontsize=8)
                ax.scatter([], [], color=colors[fam], marker='o' if mmhad_family else 's',
                           label=fam + ('' if mmhad_family else ' (peer)'))
            ax.set_xscale('log')
            ax.set_yscale('log')
            for axis in (ax.xaxis, ax.yaxis):  # plain numbers, not 3x10^1
                axis.set_major_formatter(_PlainLog(labelOnlyBase=False))
                axis.set_minor_formatter(_PlainLog(labelOnlyBase=False,
                                                   minor_thresholds=(2, 0.5)))
            ax.margins(x=0.12, y=0.08)
            ax.set_xlabel(xlabel + ', log scale')
            ax.set_ylabel(f'CPU latency, batch {bs} (ms), log scale')
            ax.set_title(f'{size[0]}×{size[1]}: latency vs {xlabel.split(" ")[0]}')
            ax.grid(True, which='both', alpha=0.3)
            ax.legend(fontsize=8, loc='best', framealpha=0.8)
    fig.suptitle('mmhad backbones vs peers: CPU latency (lower = faster; circles = '
                 'mmhad, squares = mmpretrain peers, star = baseline)', fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
    parser.add_argument('--sizes', nargs='+', default=['224', '512'],
                        help='square input sizes, or HxW (default: 224 512)')
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
                        help='timed training iterations. Default: 3')
    parser.add_argument('--timeout', type=int, default=1800,
                        help='seconds per model/config process. Default: 1800')
    parser.add_argument('--out-dir', default='work_dirs/benchmark',
                        help='where benchmark.md/.json/.png go. Default: '
                        'work_dirs/benchmark')
    parser.add_argument('--no-plot', action='store_true', help='skip benchmark.png')
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ['--worker']:
        worker_main(argv[1], argv[2])
        return None
    args = parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes]
    models = select_models(args.models, args.baseline)
    common = dict(threads=args.threads, warmup=args.warmup, repeat=args.repeat,
                  max_seconds=args.max_seconds)
    specs = [dict(kind='model', name=name, family=family, library=lib, cfg=cfg,
                  sizes=sizes, batch_sizes=args.batch_sizes, **common)
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
    print(f'Benchmarking {len(specs)} model(s)/config(s), one process each ...',
          file=sys.stderr)
    bar = ProgressBar(len(specs), file=sys.stderr)
    model_results, config_results = [], []
    for spec in specs:
        res = run_worker(spec, args.timeout)
        if spec['kind'] == 'model':
            res.update(family=spec['family'], library=spec['library'])
            model_results.append(res)
        else:
            res.setdefault('path', spec['path'])
            config_results.append(res)
        bar.update()
    sys.stderr.write('\n')

    os.makedirs(args.out_dir, exist_ok=True)
    command = 'python tools/analysis/benchmark.py ' + ' '.join(argv)
    report = make_report(args, model_results, config_results, sizes, command)
    with open(osp.join(args.out_dir, 'benchmark.md'), 'w') as f:
        f.write(report)
    with open(osp.join(args.out_dir, 'benchmark.json'), 'w') as f:
        json.dump(dict(args=vars(args), command=command, models=model_results,
                       configs=config_results), f, indent=1)
    if not args.no_plot:
        make_plot(model_results, sizes, args.batch_sizes,
                  args.baseline, osp.join(args.out_dir, 'benchmark.png'))
    print(report)
    return dict(report=report, models=model_results, configs=config_results)


if __name__ == '__main__':
    main()
