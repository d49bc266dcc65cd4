"""Paired timing: a model and the baseline timed in one process, in interleaved rounds.

The main benchmark runs every model in its own fresh process, one after the other, so
two models' medians are taken minutes apart. On a machine whose speed drifts (a shared
VM: the same model's median moved by up to 1.7x between consecutive runs on the 2-core
machine the README's figures come from) that drift lands in the ratio. Here both models
are built in one process and timed in rounds: each round times every form
(``calls`` calls back to back, median), in an order reversed every other round
(A B, B A, A B, ...), and a ratio is formed per round from that round's medians
(PyTorch's forms and ONNX Runtime's in separate rounds, ORT's threads not spinning
after a run: ORT's default spin would take the cores from the next call timed). Drift slower than a round cancels;
what is left shows as the spread of the per-round ratios, which the report prints
(median and interquartile range over the rounds).

* :func:`interleaved_rounds` -- per-round median seconds of several callables;
* :func:`ratio_stats` -- median / quartiles / range of per-round ratios;
* :func:`bench_paired` -- the worker (one model + the baseline, every input and batch
  size, eager / deploy / ONNX Runtime forms), run in a fresh process by ``runners``;
* :func:`bench_paired_configs` -- the same for two whole configs: ``test_step`` and one
  ``train_step`` (their config's optimizer) of both, in interleaved rounds.
"""
import statistics
import time

# (key, numerator form of the model, denominator form of the baseline, description)
PAIRS = [
    ('eager', 'eager', 'eager', 'training form (eval) / baseline as built'),
    ('deploy', 'deploy', 'eager', 'deploy form / baseline as built'),
    ('deploy_fused', 'deploy', 'deploy',
     'deploy form / baseline after switch_to_deploy() (Conv+BN fused)'),
    ('ort', 'ort', 'ort', 'ONNX Runtime / baseline in ONNX Runtime'),
]


def interleaved_rounds(fns, rounds, calls, warmup=1, clock=time.perf_counter):
    """``{name: [median seconds of round r for r in range(rounds)]}`` of ``fns``
    (``{name: zero-argument callable}``): every callable gets ``warmup`` untimed calls,
    then each round times ``calls`` calls of every callable back to back, in the order
    of ``fns`` in even rounds and the reverse order in odd rounds."""
    if rounds < 1 or calls < 1:
        raise ValueError(f'interleaved_rounds: rounds and calls must be >= 1, got '
                         f'rounds={rounds}, calls={calls}.')
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    per_round = {name: [] for name in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            times = []
            for _ in range(calls):
                t0 = clock()
                fns[name]()
                times.append(clock() - t0)
            per_round[name].append(statistics.median(times))
    return per_round


def runtime_groups(fns):
    """``fns`` (``{'side/form': fn}``) split into the sets timed in rounds together:
    PyTorch's forms, then ONNX Runtime's (``'*/ort'``); empty sets left out. ORT's
    thread pool winds down after a run (and spins, by its default), so an ORT call
    between two PyTorch calls would slow the second."""
    groups = [{k: f for k, f in fns.items() if k.endswith('/ort') == is_ort}
              for is_ort in (False, True)]
    return [g for g in groups if g]


def ratio_stats(numerator, denominator):
    """Summary of the per-round ratios ``numerator[r] / denominator[r]``: ``median``,
    quartiles ``q1`` / ``q3`` (inclusive method; equal to the median for one round),
    ``min``, ``max`` and the number of ``rounds``."""
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError('ratio_stats: needs two equally long, non-empty lists of '
                         f'per-round times, got {len(numerator)} and {len(denominator)}.')
    ratios = sorted(a / b for a, b in zip(numerator, denominator))
    if len(ratios) > 1:
        q1, _, q3 = statistics.quantiles(ratios, n=4, method='inclusive')
    else:
        q1 = q3 = ratios[0]
    return dict(median=statistics.median(ratios), q1=q1, q3=q3, min=ratios[0],
                max=ratios[-1], rounds=len(ratios))


def _forms(spec, model, h, w, tmp, tag):
    """``{form: forward}`` of one model: ``eager``, ``deploy`` (``--deploy``) and
    ``ort`` (``--onnxruntime``: the deploy form's graph with ``--deploy``)."""
    import os.path as osp

    from .runners import _deploy_copy, backbone_ort_session
    forms = {'eager': model}
    if spec.get('deploy'):
        forms['deploy'] = _deploy_copy(model)
    if spec.get('onnxruntime'):
        # two sessions take turns here: neither may spin on while the other runs
        session, name = backbone_ort_session(forms.get('deploy', model),
                                             osp.join(tmp, f'{tag}_{h}x{w}.onnx'), h, w,
                                             spinning=False)
        forms['ort'] = lambda x, s=session, n=name: s.run(None, {n: x.numpy()})
    return forms


def _start(spec, kind):
    """A paired worker's result dict, after applying ``spec['threads']`` and seeding."""
    import torch

    from .meters import env_info
    if spec.get('threads'):
        torch.set_num_threads(spec['threads'])
    torch.manual_seed(0)
    return dict(name=spec['model']['name'], baseline=spec['baseline']['name'], kind=kind,
                ok=False, rounds=spec['rounds'], calls=spec['calls'], **env_info(torch))


def bench_paired(spec):
    """Worker: ``spec['model']`` and ``spec['baseline']`` (each ``dict(name, library,
    cfg)``) in this process; at every input size and batch size, every form of both in
    :func:`interleaved_rounds`, and :data:`PAIRS` as :func:`ratio_stats`.

    ``result['sizes']['HxW'][str(batch)]`` holds ``round_s`` (``{'model/eager': [seconds
    per round], 'baseline/eager': [...], ...}``), their medians ``median_s`` and one
    :func:`ratio_stats` per pair of :data:`PAIRS` whose two forms were timed."""
    import tempfile

    import torch

    from .runners import _ort_info, build_backbone, short_error
    result = _start(spec, 'paired')
    if spec.get('onnxruntime'):
        result.update(_ort_info(torch.get_num_threads()))
    try:
        models = {side: build_backbone(spec[side]['library'], spec[side]['cfg'])
                  for side in ('model', 'baseline')}
    except Exception as exc:  # noqa: BLE001  (a note in the report)
        result['error'] = 'build failed: ' + short_error(exc)
        return result
    result['ok'] = True
    result['sizes'] = {}
    with tempfile.TemporaryDirectory(prefix='mmhad_bench_paired_') as tmp:
        for h, w in spec['sizes']:
            entry = result['sizes'][f'{h}x{w}'] = {}
            try:
                forms = {side: _forms(spec, m, h, w, tmp, side)
                         for side, m in models.items()}
            except Exception as exc:  # noqa: BLE001
                entry['error'] = short_error(exc)
                continue
            for bs in spec['batch_sizes']:
                x = torch.randn(bs, 3, h, w)
                fns = {f'{side}/{form}': (lambda f=f: f(x))
                       for side, fs in forms.items() for form, f in fs.items()}
                try:
                    times = {}
                    with torch.inference_mode():
                        for group in runtime_groups(fns):
                            times.update(interleaved_rounds(
                                group, spec['rounds'], spec['calls'],
                                warmup=spec['warmup']))
                except Exception as exc:  # noqa: BLE001
                    entry[str(bs)] = dict(error=short_error(exc))
                    continue
                slot = entry[str(bs)] = dict(
                    round_s=times, median_s={k: statistics.median(v)
                                             for k, v in times.items()})
                for key, num, den, _ in PAIRS:
                    a, b = times.get(f'model/{num}'), times.get(f'baseline/{den}')
                    if a is not None and b is not None:
                        slot[key] = ratio_stats(a, b)
    return result


def bench_paired_configs(spec):
    """Worker: two whole configs (``spec['model']`` and ``spec['baseline']``, each
    ``dict(name, path)``) built in this process at ``spec['size']`` (or each config's
    own size), then ``test_step`` at batch 1 of both in interleaved rounds (eval mode,
    ``torch.inference_mode()``) and ``train_step`` at ``spec['train_batch_size']`` of both
    in interleaved rounds (train mode, each with its config's optimizer); as
    :func:`bench_paired`, ``result['steps'][step]`` holds ``round_s``, ``median_s`` and
    the :func:`ratio_stats` of config / baseline."""
    import torch

    from .inputs import synthetic_batch
    from .runners import _build_config_model, config_optim_wrapper, short_error
    result = _start(spec, 'paired_config')
    sides = {}
    try:
        for side in ('model', 'baseline'):
            info = {}
            cfg, scope, model_cfg, (h, w), model = _build_config_model(
                dict(path=spec[side]['path'], size=spec.get('size')), info)
            sides[side] = dict(cfg=cfg, scope=scope, model_cfg=model_cfg, size=(h, w),
                               model=model)
            result[f'{side}_size'] = f'{h}x{w}'
            if info.get('note'):
                result[f'{side}_note'] = info['note']
    except Exception as exc:  # noqa: BLE001  (a note in the report)
        result['error'] = 'build failed: ' + short_error(exc)
        return result
    result['ok'] = True
    result['steps'] = {}

    def run(step, make_fns, grad):
        try:
            fns = make_fns()
            with torch.inference_mode(not grad):
                times = interleaved_rounds(fns, spec['rounds'], spec['calls'],
                                           warmup=max(1, spec['warmup']))
        except Exception as exc:  # noqa: BLE001
            result['steps'][step] = dict(error=short_error(exc))
            return
        result['steps'][step] = dict(
            round_s=times, median_s={k: statistics.median(v) for k, v in times.items()},
            ratio=ratio_stats(times['model'], times['baseline']))

    def infer_fns():
        fns = {}
        for side, s in sides.items():
            s['model'].eval()
            data = synthetic_batch(s['scope'], s['model_cfg'], *s['size'], 1, train=False)
            fns[side] = lambda m=s['model'], d=data: m.test_step(d)
        return fns

    def train_fns():
        fns = {}
        for side, s in sides.items():
            s['model'].train()
            optim = config_optim_wrapper(s['cfg'], s['model'], result)
            data = synthetic_batch(s['scope'], s['model_cfg'], *s['size'],
                                   spec['train_batch_size'], train=True)
            fns[side] = lambda m=s['model'], d=data, o=optim: m.train_step(d, o)
        return fns

    run('infer', infer_fns, grad=False)
    if spec.get('train_repeat', 1) > 0:
        run('train', train_fns, grad=True)
    result['train_batch_size'] = spec['train_batch_size']
    return result


def paired_lines(results, markdown_table):
    """Markdown lines of the "Paired" section from :func:`bench_paired` results
    (``markdown_table(header, rows)`` formats a table); failures go to the notes."""
    ok = [r for r in results if r.get('ok')]
    if not ok:
        return []
    first = ok[0]
    text = ['', f'## Paired: each model against {first["baseline"]} in one process, '
            'interleaved rounds', '',
            f'Both models built in one fresh process and timed in {first["rounds"]} '
            f'rounds; a round times {first["calls"]} call(s) of every form of both back '
            'to back (median), in an order reversed every other round, and gives one '
            'ratio per pair from that round\'s medians. Time × = model / baseline: the '
            'median of the per-round ratios, with their interquartile range (q1–q3); '
            '< 1 = the model is faster. Throughput × = 1 / Time ×. Machine drift slower '
            'than a round cancels in these ratios (the per-process tables above are '
            'taken minutes apart). Pairs: ' +
            '; '.join(f'{key} = {desc}' for key, _, _, desc in PAIRS) + '.', '']
    header = ['Model', 'Input', 'Batch', 'Pair', 'Model (ms)', 'Baseline (ms)',
              'Time ×', 'Time × q1–q3', 'Throughput ×', 'Rounds']
    rows = []
    for res in ok:
        for size, entry in res['sizes'].items():
            for bs, slot in entry.items():
                if bs == 'error' or 'error' in slot:
                    continue
                med = slot['median_s']
                for key, num, den, _ in PAIRS:
                    if key not in slot:
                        continue
                    st = slot[key]
                    rows.append([
                        res['name'], size, bs, key,
                        f'{med["model/" + num] * 1e3:.2f}',
                        f'{med["baseline/" + den] * 1e3:.2f}', f'{st["median"]:.2f}',
                        f'{st["q1"]:.2f}–{st["q3"]:.2f}', f'{1 / st["median"]:.2f}',
                        str(st['rounds'])])
    text.append(markdown_table(header, rows))
    return text


def paired_config_lines(results, markdown_table):
    """Markdown lines of the paired whole-model comparison
    (:func:`bench_paired_configs` results)."""
    ok = [r for r in results if r.get('ok')]
    if not ok:
        return []
    first = ok[0]
    text = ['', '### Whole models (configs), paired with their task\'s baseline config', '',
            f'Both configs built in one fresh process; `test_step` at batch 1 (eval) of '
            f'both in {first["rounds"]} interleaved rounds of {first["calls"]} call(s), '
            f'then `train_step` at batch {first["train_batch_size"]} (train mode, each '
            f'config\'s optimizer) of both in {first["rounds"]} interleaved rounds. '
            f'Time × = config / baseline, median of the per-round ratios (q1–q3).', '']
    header = ['Config', 'Baseline', 'Step', 'Config (ms)', 'Baseline (ms)', 'Time ×',
              'Time × q1–q3', 'Rounds']
    rows = []
    for res in ok:
        for step, slot in res['steps'].items():
            if 'error' in slot:
                continue
            st, med = slot['ratio'], slot['median_s']
            label = ('test_step bs1' if step == 'infer' else
                     f'train_step bs{res["train_batch_size"]}')
            rows.append([res['name'], res['baseline'], label,
                         f'{med["model"] * 1e3:.1f}', f'{med["baseline"] * 1e3:.1f}',
                         f'{st["median"]:.2f}', f'{st["q1"]:.2f}–{st["q3"]:.2f}',
                         str(st['rounds'])])
    text.append(markdown_table(header, rows))
    return text


def paired_notes(results):
    notes = []
    for res in results:
        label = f'{res["name"]} paired with {res.get("baseline")}'
        if not res.get('ok'):
            notes.append(f'- **{label}: skipped** — {res.get("error")}')
            continue
        for step, slot in res.get('steps', {}).items():
            if 'error' in slot:
                notes.append(f'- {label} {step}: failed — {slot["error"]}')
        for size, entry in res.get('sizes', {}).items():
            if 'error' in entry:
                notes.append(f'- {label} {size}: failed — {entry["error"]}')
                continue
            for bs, slot in entry.items():
                if 'error' in slot:
                    notes.append(f'- {label} {size} bs{bs}: failed — {slot["error"]}')
    return notes
