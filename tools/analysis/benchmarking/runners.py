"""How a model is run: the workers and the fresh process each one runs in.

* :func:`bench_backbone` -- build one backbone (``MODELS.build(cfg)``) and measure params,
  FLOPs, latency / throughput and peak memory at every input and batch size;
* :func:`bench_config` -- build a whole mmdet / mmseg / mmpretrain config (through
  ``mmhad.utils.config_model``) and measure ``test_step`` at batch 1 and one
  ``train_step`` on synthetic inputs;
* with ``spec['scaling']`` (a list of ``(h, w)``) :func:`bench_backbone` also measures
  batch-1 FLOPs, latency and peak memory at each of those sizes (``--scaling``);
* with ``spec['deploy']`` both also time the deploy form (``switch_to_deploy()`` on a
  copy: Conv+BN fused, ...), and with ``spec['onnxruntime']`` an ONNX export of the model
  (of its deploy form with ``deploy``) run by ONNX Runtime's CPU provider with as many
  intra-op threads as PyTorch, in the same process, right after PyTorch's timings;
* :func:`.paired.bench_paired` (``kind='paired'``) and
  :func:`.paired.bench_paired_configs` (``kind='paired_config'``) -- a backbone or a
  whole config and its baseline in one process, timed in interleaved rounds
  (``--paired``);
* :func:`run_worker` -- run one of them, from a JSON spec, in a fresh Python process
  (``python -m tools.analysis.benchmarking.runners SPEC OUT``) so that peak memory is the
  model's own and one crash or hang does not end the run.
"""
import copy
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile

from .inputs import synthetic_batch
from .meters import PeakMemory, env_info, time_runs

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
WORKER_MODULE = 'tools.analysis.benchmarking.runners'  # run as `python -m` from REPO


def short_error(exc):
    text = f'{type(exc).__name__}: {exc}'.strip().replace('\n', ' ')
    return text if len(text) <= 300 else text[:297] + '...'


def _deploy_copy(model):
    """switch_to_deploy() on a copy (which it puts in eval mode; some modules' ``train()``
    return None, so no chaining)."""
    from mmhad.models.deploy import switch_to_deploy
    return switch_to_deploy(copy.deepcopy(model))


def _ort_session(path, threads, spinning=True):
    """ONNX Runtime CPU session, ``threads`` intra-op threads (PyTorch's count);
    ``spinning=False`` stops its threads from busy-waiting after a run (ORT's default is
    to spin, which takes the cores from whatever runs next in this process)."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    if not spinning:
        opts.add_session_config_entry('session.intra_op.allow_spinning', '0')
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, opts, providers=['CPUExecutionProvider'])


def _ort_info(threads):
    import onnxruntime as ort
    return dict(onnxruntime=ort.__version__, ort_threads=int(threads))


def _timed(times, batch_size=1):
    med = statistics.median(times)
    return dict(median_s=med, runs=len(times), min_s=min(times),
                images_per_s=batch_size / med)


def build_backbone(library, cfg):
    """A backbone of the zoo in eval mode: ``library`` ``'mmhad'`` builds ``cfg`` from
    mmengine's root registry after ``import mmhad``, else from mmpretrain's."""
    if library == 'mmhad':
        from mmengine.registry import MODELS

        import mmhad  # noqa: F401  (registers the mmhad backbones)
    else:
        from mmpretrain.registry import MODELS
    model = MODELS.build(copy.deepcopy(cfg))
    model.eval()  # some modules' train() returns None: no chaining
    return model


def bench_backbone(spec):
    """Worker: build one backbone and measure it at every size and batch size."""
    result = dict(name=spec['name'], kind='model', ok=False)
    import torch
    if spec.get('threads'):
        torch.set_num_threads(spec['threads'])
    torch.manual_seed(0)
    result.update(env_info(torch))
    try:
        model = build_backbone(spec['library'], spec['cfg'])
    except Exception as exc:  # noqa: BLE001  (skipped with a note in the report)
        result['error'] = 'build failed: ' + short_error(exc)
        return result
    result['ok'] = True
    result['params'] = sum(p.numel() for p in model.parameters())
    result['sizes'] = {}
    deployed = None
    if spec.get('deploy'):
        try:
            deployed = _deploy_copy(model)
        except Exception as exc:  # noqa: BLE001
            result['deploy_error'] = short_error(exc)
    tmp = tempfile.TemporaryDirectory(prefix='mmhad_bench_ort_') \
        if spec.get('onnxruntime') else None
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
            entry['flops_error'] = short_error(exc)
        for bs in spec['batch_sizes']:
            try:
                x = torch.randn(bs, 3, h, w)
                with torch.inference_mode(), PeakMemory() as mem:
                    times = time_runs(lambda x=x: model(x), spec['warmup'], spec['repeat'],
                                      spec['max_seconds'])
                del x
                med = statistics.median(times)
                entry['batch'][str(bs)] = dict(
                    median_s=med, runs=len(times), min_s=min(times),
                    images_per_s=bs / med, peak_mem=mem.peak)
                result['mem_method'] = mem.method
            except Exception as exc:  # noqa: BLE001
                entry['batch'][str(bs)] = dict(error=short_error(exc))
        if deployed is not None:
            _time_forms(entry, 'deploy', spec, h, w, lambda x: deployed(x))
        if tmp is not None:
            _time_backbone_ort(entry, spec, deployed if deployed is not None else model,
                               h, w, tmp.name, result)
    if tmp is not None:
        tmp.cleanup()
    if spec.get('scaling'):
        result['attention_kernels'] = attention_kernels(model)
        result['scaling'] = bench_scaling(model, spec)
    return result


def attention_kernels(model, size=(128, 128)):
    """``{kernel: calls}`` of the ``scaled_dot_product_attention`` implementations one
    batch-1 forward at ``size`` runs (torch profiler), e.g.
    ``{'_scaled_dot_product_flash_attention_for_cpu': 8}``; ``{}`` without attention,
    ``None`` when it cannot be profiled. The math fallback
    (``_scaled_dot_product_attention_math``) materialises the N x N attention matrix."""
    import torch
    try:
        with torch.inference_mode(), torch.profiler.profile(
                activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            model(torch.randn(1, 3, *size))
    except Exception:  # noqa: BLE001
        return None
    return {e.key.replace('aten::', ''): e.count for e in prof.key_averages()
            if 'scaled_dot_product' in e.key and
            e.key != 'aten::scaled_dot_product_attention'}


def bench_scaling(model, spec):
    """Batch-1 FLOPs, latency and peak memory of ``model`` (in eval mode) at every
    ``(h, w)`` of ``spec['scaling']``, in that order: ``{'HxW': dict(pixels, flops,
    median_s, min_s, runs, images_per_s, peak_mem, peak_rss)}``. ``peak_mem`` is the RSS
    growth during warm-up + timed forwards (activations and workspaces), ``peak_rss``
    the whole process's peak during them (interpreter, weights and input included). A
    size that fails gets ``error`` (e.g. out of memory) and the next size still runs."""
    import torch
    from mmhad.utils.flops import count_flops  # attention matmuls included
    out = {}
    for h, w in spec['scaling']:
        entry = dict(pixels=h * w)
        out[f'{h}x{w}'] = entry
        try:
            with torch.inference_mode():
                entry['flops'], _ = count_flops(model, (torch.randn(1, 3, h, w),))
        except Exception as exc:  # noqa: BLE001
            entry['flops_error'] = short_error(exc)
        try:
            x = torch.randn(1, 3, h, w)
            with torch.inference_mode(), PeakMemory() as mem:
                times = time_runs(lambda: model(x), spec['warmup'], spec['repeat'],
                                  spec['max_seconds'])
            entry.update(_timed(times), peak_mem=mem.peak, peak_rss=mem.peak_rss,
                         mem_method=mem.method)
        except Exception as exc:  # noqa: BLE001
            entry['error'] = short_error(exc)
    return out


def _time_forms(entry, key, spec, h, w, forward):
    """Time ``forward`` at every batch size into ``entry['batch'][bs][key]``."""
    import torch
    for bs in spec['batch_sizes']:
        slot = entry['batch'].setdefault(str(bs), {})
        try:
            x = torch.randn(bs, 3, h, w)
            with torch.inference_mode():
                times = time_runs(lambda: forward(x), spec['warmup'], spec['repeat'],
                                  spec['max_seconds'])
            slot[key] = _timed(times, bs)
        except Exception as exc:  # noqa: BLE001
            slot[key] = dict(error=short_error(exc))


def backbone_ort_session(module, path, h, w, spinning=True):
    """Export ``module`` to ``path`` (``export_onnx.py``'s graph, dynamic batch, ``h x w``
    input) and open it in ONNX Runtime with PyTorch's thread count (:func:`_ort_session`);
    ``(session, input name)``."""
    import torch

    from tools.deployment.export_onnx import export
    export(module, path, (h, w), 3)
    session = _ort_session(path, torch.get_num_threads(), spinning=spinning)
    return session, session.get_inputs()[0].name


def _time_backbone_ort(entry, spec, module, h, w, tmp, result):
    """Export ``module`` (dynamic batch) and time ONNX Runtime at every batch size."""
    import numpy as np
    import torch

    try:
        session, name = backbone_ort_session(module, osp.join(tmp, f'{h}x{w}.onnx'), h, w)
        result.update(_ort_info(torch.get_num_threads()))
    except Exception as exc:  # noqa: BLE001
        entry['ort_error'] = 'export failed: ' + short_error(exc)
        return
    for bs in spec['batch_sizes']:
        slot = entry['batch'].setdefault(str(bs), {})
        try:
            x = np.random.RandomState(0).randn(bs, 3, h, w).astype(np.float32)
            times = time_runs(lambda: session.run(None, {name: x}), spec['warmup'],
                              spec['repeat'], spec['max_seconds'])
            slot['ort'] = _timed(times, bs)
        except Exception as exc:  # noqa: BLE001
            slot['ort'] = dict(error=short_error(exc))


def _build_config_model(spec, result):
    """(cfg, scope, model_cfg, (h, w), model) of a whole config, without weights."""
    try:
        import mmhad  # noqa: F401  (mmhad types; SSDHeadWithPredict)
    except Exception as exc:  # noqa: BLE001  upstream configs still work without it
        result['note'] = 'import mmhad failed: ' + short_error(exc)
    from mmhad.utils.config_model import build_model, input_size, load_config, \
        strip_init_cfg
    cfg = load_config(spec['path'])  # file or pkg::path; sets the default scope
    scope = cfg.get('default_scope') or 'mmdet'
    cfg.default_scope = scope
    model_cfg = copy.deepcopy(cfg.model)
    strip_init_cfg(model_cfg)  # no checkpoint downloads
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
    cfg.model = model_cfg
    return cfg, scope, model_cfg, (h, w), build_model(cfg)


def bench_config(spec):
    """Worker: one config, inference (batch 1) and one training iteration."""
    result = dict(name=spec['name'], kind='config', path=spec['path'], ok=False)
    import torch
    from torch import nn
    if spec.get('threads'):
        torch.set_num_threads(spec['threads'])
    torch.manual_seed(0)
    result.update(env_info(torch))
    try:
        cfg, scope, model_cfg, (h, w), model = _build_config_model(spec, result)
        result['task'] = scope
    except Exception as exc:  # noqa: BLE001
        result['error'] = 'build failed: ' + short_error(exc)
        return result
    result['ok'] = True
    result['size'] = f'{h}x{w}'
    result['params'] = sum(p.numel() for p in model.parameters())

    # FLOPs of the network alone (tensor mode: no preprocessing / post-processing).
    model.eval()
    try:
        data = synthetic_batch(scope, model_cfg, h, w, 1, train=False)
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
        result['flops_error'] = short_error(exc)

    try:
        data = synthetic_batch(scope, model_cfg, h, w, 1, train=False)
        with torch.inference_mode(), PeakMemory() as mem:
            times = time_runs(lambda: model.test_step(data), spec['warmup'],
                              spec['repeat'], spec['max_seconds'])
        result['infer'] = dict(median_s=statistics.median(times), runs=len(times),
                               peak_mem=mem.peak, batch_size=1)
        result['mem_method'] = mem.method
    except Exception as exc:  # noqa: BLE001
        result['infer'] = dict(error=short_error(exc))

    if spec.get('deploy') or spec.get('onnxruntime'):
        _time_config_forms(spec, result, scope, model_cfg, h, w, model)

    if spec.get('train_repeat', 1) <= 0:
        result['train'] = dict(skipped=True)
        return result
    try:
        model.train()
        optim_wrapper = config_optim_wrapper(cfg, model, result)
        bs = spec['train_batch_size']
        data = synthetic_batch(scope, model_cfg, h, w, bs, train=True)
        with PeakMemory() as mem:
            times = time_runs(lambda: model.train_step(data, optim_wrapper),
                              min(spec['warmup'], 1), spec['train_repeat'],
                              spec['max_seconds'])
        result['train'] = dict(median_s=statistics.median(times), runs=len(times),
                               peak_mem=mem.peak, batch_size=bs)
    except Exception as exc:  # noqa: BLE001
        result['train'] = dict(error=short_error(exc))
    return result


def config_optim_wrapper(cfg, model, result):
    """The config's optimizer wrapper for ``model``; where it cannot be built on this
    machine (e.g. an AMP wrapper on CPU), plain SGD, with a note in ``result``."""
    import torch
    from mmengine.optim import OptimWrapper, build_optim_wrapper
    try:
        return build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    except Exception:  # noqa: BLE001
        result['note'] = (result.get('note', '') + ' optimizer: SGD fallback.').strip()
        return OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))


def _time_config_forms(spec, result, scope, model_cfg, h, w, model):
    """Batch-1 inference of the deploy form (``test_step``) and of the whole-model ONNX
    graph in ONNX Runtime (network + NMS / argmax / softmax; the input is the data
    preprocessor's output, see tools/deployment/whole_model.py)."""
    import torch
    deployed = None
    if spec.get('deploy'):
        try:
            deployed = _deploy_copy(model)
            data = synthetic_batch(scope, model_cfg, h, w, 1, train=False)
            with torch.inference_mode():
                times = time_runs(lambda: deployed.test_step(data), spec['warmup'],
                                  spec['repeat'], spec['max_seconds'])
            result['infer_deploy'] = _timed(times)
        except Exception as exc:  # noqa: BLE001
            result['infer_deploy'] = dict(error=short_error(exc))
    if not spec.get('onnxruntime'):
        return
    try:
        from tools.deployment import whole_model as wm
        task = wm.task_of(model, result['name'])
        data = synthetic_batch(scope, model_cfg, h, w, 1, train=False)
        with torch.no_grad():
            pre = model.data_preprocessor(data, False)
        x = pre['inputs']
        img_shape = pre['data_samples'][0].metainfo.get('img_shape', x.shape[-2:])
        graph = wm.make_graph(task, model, x.shape[-2:], img_shape,
                              deploy=bool(spec.get('deploy')))
        with tempfile.TemporaryDirectory(prefix='mmhad_bench_ort_') as tmp:
            path = osp.join(tmp, 'model.onnx')
            wm.export_graph(graph, x, path)
            threads = torch.get_num_threads()
            session = _ort_session(path, threads)
        result.update(_ort_info(threads))
        feed = {'input': x.numpy()}
        wanted = wm.PRIMARY_OUTPUTS[task]
        times = time_runs(lambda: session.run(wanted, feed), spec['warmup'],
                          spec['repeat'], spec['max_seconds'])
        result['infer_ort'] = _timed(times)
    except Exception as exc:  # noqa: BLE001
        result['infer_ort'] = dict(error=short_error(exc))


def worker_main(spec_path, out_path):
    """Run the worker a JSON spec names and write its result as JSON."""
    with open(spec_path) as f:
        spec = json.load(f)
    if 'sizes' in spec:  # JSON lists -> (h, w) tuples
        spec['sizes'] = [tuple(s) for s in spec['sizes']]
    if spec['kind'] == 'model':
        result = bench_backbone(spec)
    elif spec['kind'] == 'paired':
        from .paired import bench_paired
        result = bench_paired(spec)
    elif spec['kind'] == 'paired_config':
        from .paired import bench_paired_configs
        result = bench_paired_configs(spec)
    else:
        result = bench_config(spec)
    with open(out_path, 'w') as f:
        json.dump(result, f)


def run_worker(spec, timeout):
    """Run ``spec`` in a fresh process; its result, or ``ok=False`` with the error."""
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
                [sys.executable, '-m', WORKER_MODULE, spec_path, out_path],
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


if __name__ == '__main__':
    worker_main(sys.argv[1], sys.argv[2])
