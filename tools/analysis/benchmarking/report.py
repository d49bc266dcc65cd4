"""The benchmark's report: markdown tables (``benchmark.md``) and the plot (``.png``).

Works on the result dicts of :mod:`.runners` (as stored in ``benchmark.json``):
:func:`make_report` writes the whole markdown page, :func:`model_table` /
:func:`config_table` one table each, :func:`make_plot` latency vs params and vs FLOPs.
"""
import datetime
import os
import platform

MIB = 1024 * 1024


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
    return markdown_table(header, rows)


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
    return markdown_table(header, rows)


def _form_ms(d):
    return None if not d or 'median_s' not in d else d['median_s'] * 1e3


def runtime_forms(args):
    """(key, title) of the forms timed beside PyTorch's training form."""
    forms = []
    if getattr(args, 'deploy', False):
        forms.append(('deploy', 'Deploy'))
    if getattr(args, 'onnxruntime', False):
        forms.append(('ort', 'ORT'))
    return forms


def runtime_table(results, size_key, batch_sizes, forms):
    """PyTorch (training form) beside the deploy form and / or ONNX Runtime, one input
    size: latency at batch 1 (ms, × = form / PyTorch, < 1 faster) and throughput at the
    other batch sizes (img/s, × = form / PyTorch, > 1 faster)."""
    header = ['Model']
    for _, bs, kind in batch_columns(batch_sizes):
        unit = 'ms' if kind == 'lat' else 'img/s'
        header.append(f'PyTorch bs{bs} ({unit})')
        for _, title in forms:
            header += [f'{title} bs{bs} ({unit})', f'{title} × bs{bs}']
    rows = []
    for res in results:
        if not res['ok']:
            continue
        batch = res.get('sizes', {}).get(size_key, {}).get('batch', {})
        row = [res['name']]
        for _, bs, kind in batch_columns(batch_sizes):
            entry = batch.get(str(bs), {})

            def value(d):
                if kind == 'lat':
                    return _form_ms(d)
                return None if not d else d.get('images_per_s')

            base = value(entry if 'median_s' in entry else None)
            row.append(_fmt(base, 2 if kind == 'lat' else 1))
            for key, _ in forms:
                v = value(entry.get(key))
                row += [_fmt(v, 2 if kind == 'lat' else 1), _ratio(v, base)]
        rows.append(row)
    return markdown_table(header, rows)


def config_runtime_table(results, forms):
    header = ['Config', 'PyTorch test_step bs1 (ms)']
    for key, title in forms:
        header += [f'{title} bs1 (ms)', f'{title} ×']
    rows = []
    for res in results:
        if not res['ok']:
            continue
        base = _form_ms(res.get('infer'))
        row = [res['name'], _fmt(base, 1)]
        for key, _ in forms:
            v = _form_ms(res.get('infer_' + key))
            row += [_fmt(v, 1), _ratio(v, base)]
        rows.append(row)
    return markdown_table(header, rows)


def _runtime_lines(args, model_results, config_results, sizes):
    forms = runtime_forms(args)
    if not forms:
        return []
    ok = [r for r in model_results + config_results if r.get('ok')]
    ort_v = next((r['onnxruntime'] for r in ok if 'onnxruntime' in r), None)
    ort_threads = next((r['ort_threads'] for r in ok if 'ort_threads' in r), None)
    text = ['', '## Runtimes: training form vs ' +
            ' and '.join(t for _, t in forms), '']
    if getattr(args, 'deploy', False):
        text.append('- Deploy = the model after `switch_to_deploy()` (a copy; Conv+BN '
                    'fused, EMO/EfficientMod/ACH folds), PyTorch, same input and timing.')
    if getattr(args, 'onnxruntime', False):
        src = 'deploy form' if getattr(args, 'deploy', False) else 'training form (eval)'
        text.append(f'- ORT = ONNX Runtime {ort_v or "?"} CPUExecutionProvider, '
                    f'{ort_threads or "?"} intra-op thread(s) (as PyTorch), 1 inter-op, '
                    f'all graph optimisations, on the ONNX graph exported (opset 17) from '
                    f'the {src}; backbones: `export_onnx.py`\'s graph (dynamic batch), '
                    f'whole models: `export_onnx.py --whole-model`\'s graph (batch 1: '
                    f'network + NMS / argmax / softmax, fed the data preprocessor\'s '
                    f'output).')
    text.append('- × = form / PyTorch training form in this run: latency × < 1 and '
                'throughput × > 1 mean faster than PyTorch.')
    for size in sizes if model_results else []:
        key = f'{size[0]}x{size[1]}'
        text += ['', f'### Backbones, input {size[0]}×{size[1]}', '',
                 runtime_table(model_results, key, args.batch_sizes, forms)]
    if config_results:
        text += ['', '### Whole models (configs), batch 1', '',
                 'PyTorch and Deploy: `test_step` (data preprocessor + network + '
                 'post-processing, boxes rescaled); ORT: the exported graph on the '
                 'pre-processed tensor (network + NMS / argmax / softmax).', '',
                 config_runtime_table(config_results, forms)]
    return text


def markdown_table(header, rows):
    """A markdown table: the first column left-aligned, the numbers right-aligned."""
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


def make_report(args, model_results, config_results, sizes, command, scaling=None,
                load=None, paired=None):
    """The markdown page. ``scaling``: :func:`.scaling.scaling_summary` of a
    ``--scaling`` run; ``load``: the 1-minute load average at the start and the end;
    ``paired``: the :func:`.paired.bench_paired` results of a ``--paired`` run."""
    from .paired import paired_config_lines, paired_lines, paired_notes
    from .scaling import scaling_lines, scaling_notes
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
    if load and any(v is not None for v in load):
        lines.append('- 1-minute load average at the start / end of the run: ' +
                     ' / '.join(_fmt(v) for v in load) + '.')
    baseline = args.baseline if args.baseline and args.baseline.lower() != 'none' else None
    if baseline and sizes:  # a --scaling-only run has no ratio columns
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
    lines += _runtime_lines(args, model_results, config_results, sizes)
    if paired:
        backbones = [r for r in paired if r.get('kind') == 'paired']
        configs = [r for r in paired if r.get('kind') == 'paired_config']
        lines += paired_lines(backbones, markdown_table)
        if configs and not any(r.get('ok') for r in backbones):
            lines += ['', '## Paired: in one process, interleaved rounds']
        lines += paired_config_lines(configs, markdown_table)
    if scaling:
        lines += scaling_lines(scaling, markdown_table)
    notes = scaling_notes(model_results) + paired_notes(paired or [])
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
        for key in ('infer', 'train', 'infer_deploy', 'infer_ort'):
            if 'error' in (res.get(key) or {}):
                notes.append(f'- {res["name"]} {key}: failed — {res[key]["error"]}')
        for key, entry in res.get('sizes', {}).items():
            if entry.get('ort_error'):
                notes.append(f'- {res["name"]} {key} ORT: {entry["ort_error"]}')
            for bs, b in entry.get('batch', {}).items():
                for form in ('deploy', 'ort'):
                    if 'error' in (b.get(form) or {}):
                        notes.append(f'- {res["name"]} {key} bs{bs} {form}: failed — '
                                     f'{b[form]["error"]}')
        if res.get('deploy_error'):
            notes.append(f'- {res["name"]} deploy form: failed — {res["deploy_error"]}')
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
