"""``--scaling``: how batch-1 latency and peak memory grow with the number of pixels.

Works on the ``scaling`` entries the backbone worker (:func:`.runners.bench_scaling`)
adds to its result: for each model it fits ``latency ∝ pixels^a``, ``memory ∝ pixels^b``
(and ``FLOPs ∝ pixels^c``) by least squares on log-log axes, checks the largest size
against a memory budget, and per family reports the largest exponents of its archs.

* :func:`fit_power_law` -- the exponent (and factor) of ``y = k x^e``;
* :func:`scaling_summary` -- the fits of every model and family (``benchmark.json``);
* :func:`scaling_lines` -- the "Scaling" section of ``benchmark.md``;
* :func:`make_scaling_plot` -- latency and memory vs pixels, log-log (``scaling.png``).
"""
import math

GIB = 1024 ** 3
MIB = 1024 ** 2
DEFAULT_SCALING_SIZES = ['512x512', '768x768', '1024x1024', '1024x2048']


def fit_power_law(xs, ys):
    """``(e, k)`` of the least-squares fit of ``log y = e log x + log k``, over the
    points where both values are positive; ``None`` with fewer than two such points at
    distinct ``x``. An exact power law ``y = k x^e`` gives ``e`` and ``k`` back."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys)
           if x is not None and y is not None and x > 0 and y > 0]
    if len({p[0] for p in pts}) < 2:
        return None
    n = len(pts)
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    sxy = sum((p[0] - mx) * (p[1] - my) for p in pts)
    e = sxy / sxx
    return e, math.exp(my - e * mx)


def _size_keys(sizes):
    return [f'{h}x{w}' for h, w in sizes]


def scaling_summary(model_results, sizes, budget_gib):
    """Per model (``models``, in run order) and per family (``families``): the fitted
    exponents, the values at every size and whether the largest size stayed within
    ``budget_gib`` of peak process memory."""
    keys = _size_keys(sizes)
    largest = max(keys, key=lambda k: _pixels(k)) if keys else None
    models, families = {}, {}
    for res in model_results:
        if not res.get('ok') or 'scaling' not in res:
            continue
        sc = res['scaling']
        pix = [_pixels(k) for k in keys]

        def col(field, sc=sc):
            return [sc.get(k, {}).get(field) for k in keys]

        lat = fit_power_law(pix, col('median_s'))
        mem = fit_power_law(pix, col('peak_mem'))
        flops = fit_power_law(pix, col('flops'))
        top = sc.get(largest, {})
        within = None
        if top.get('peak_rss') is not None:
            within = top['peak_rss'] <= budget_gib * GIB
        elif 'error' in top:
            within = False  # e.g. out of memory at the largest size
        entry = dict(
            family=res.get('family', res['name']),
            latency_exponent=lat and lat[0], memory_exponent=mem and mem[0],
            flops_exponent=flops and flops[0], largest=largest,
            largest_peak_rss=top.get('peak_rss'), within_budget=within,
            sizes={k: {f: sc.get(k, {}).get(f) for f in
                       ('pixels', 'median_s', 'runs', 'peak_mem', 'peak_rss', 'flops')}
                   for k in keys})
        entry['attention_kernels'] = res.get('attention_kernels')
        models[res['name']] = entry
        fam = families.setdefault(entry['family'], dict(
            archs=[], latency_exponent=None, memory_exponent=None,
            flops_exponent=None, within_budget=None))
        fam['archs'].append(res['name'])
        for f in ('latency_exponent', 'memory_exponent', 'flops_exponent'):
            if entry[f] is not None:
                fam[f] = entry[f] if fam[f] is None else max(fam[f], entry[f])
    for fam in families.values():
        flags = [models[n]['within_budget'] for n in fam['archs']]
        fam['within_budget'] = False if False in flags else (
            None if None in flags else True)
    return dict(sizes=keys, largest=largest, memory_budget_gib=budget_gib,
                models=models, families=families)


def _pixels(key):
    h, w = key.split('x')
    return int(h) * int(w)


def _f(value, digits=2, scale=1.0):
    return '–' if value is None else f'{value * scale:.{digits}f}'


def _kernels(kernels):
    """``flash ×8``, ``math ×10`` (materialises N×N), ``none`` or ``–``."""
    if kernels is None:
        return '–'
    if not kernels:
        return 'none'
    short = []
    for name, count in sorted(kernels.items()):
        label = name.replace('_scaled_dot_product_', '').replace('_attention', '')
        label = label.replace('_for_cpu', '')
        short.append(f'{label} ×{count}')
    return ', '.join(short)


def _yes_no(value):
    return '–' if value is None else ('yes' if value else '**no**')


def scaling_lines(summary, markdown_table):
    """Markdown lines of the "Scaling" section (``markdown_table(header, rows)``
    formats a table)."""
    keys, budget = summary['sizes'], summary['memory_budget_gib']
    largest = summary['largest']
    text = ['', '## Scaling: batch 1, growth with the number of pixels', '',
            f'Latency (ms) and peak memory (MiB, RSS growth above model + input) at each '
            f'size, measured in this run in one fresh process per model (eval, '
            f'`torch.inference_mode()`). Exponents: least-squares slope of log(value) '
            f'against log(pixels) over the {len(keys)} sizes: latency ∝ pixels^a, '
            f'memory ∝ pixels^b, FLOPs ∝ pixels^c (1 = linear, 2 = quadratic; a fixed '
            f'overhead pulls b below 1). "≤ {budget:g} GiB" = the whole process\'s peak '
            f'RSS (interpreter, weights and input included) at {largest} stayed within '
            f'`--memory-budget-gib`. Attention kernel: the '
            f'`scaled_dot_product_attention` implementation(s) one forward runs, with '
            f'their number of calls (flash: fused, memory linear in tokens; math: the '
            f'fallback that materialises the N×N attention matrix).', '']
    header = ['Model'] + [f'Latency {k} (ms)' for k in keys] + \
        [f'Peak mem {k} (MiB)' for k in keys] + \
        ['a (latency)', 'b (memory)', 'c (FLOPs)', f'Peak RSS {largest} (MiB)',
         f'≤ {budget:g} GiB', 'Attention kernel']
    rows = []
    for name, m in summary['models'].items():
        rows.append([name] + [_f(m['sizes'][k]['median_s'], 1, 1e3) for k in keys] +
                    [_f(m['sizes'][k]['peak_mem'], 1, 1 / MIB) for k in keys] +
                    [_f(m['latency_exponent']), _f(m['memory_exponent']),
                     _f(m['flops_exponent']), _f(m['largest_peak_rss'], 0, 1 / MIB),
                     _yes_no(m['within_budget']), _kernels(m.get('attention_kernels'))])
    text.append(markdown_table(header, rows))
    text += ['', 'Per family (the largest exponent of its archs):', '']
    for fam, f in summary['families'].items():
        text.append(f'- **{fam}** ({", ".join(f["archs"])}): latency ∝ pixels^'
                    f'{_f(f["latency_exponent"])}, memory ∝ pixels^'
                    f'{_f(f["memory_exponent"])}, FLOPs ∝ pixels^'
                    f'{_f(f["flops_exponent"])}; {largest} within {budget:g} GiB: '
                    f'{_yes_no(f["within_budget"])}.')
    return text


def scaling_notes(model_results):
    notes = []
    for res in model_results:
        for key, entry in (res.get('scaling') or {}).items():
            if 'error' in entry:
                notes.append(f'- {res["name"]} scaling {key}: failed — {entry["error"]}')
            if 'flops_error' in entry:
                notes.append(f'- {res["name"]} scaling {key}: FLOPs failed — '
                             f'{entry["flops_error"]}')
    return notes


def make_scaling_plot(summary, path):
    """Latency and peak memory against megapixels, log-log, one line per model."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib import ticker
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    cmap = plt.get_cmap('tab10')
    for i, (name, m) in enumerate(summary['models'].items()):
        style = dict(color=cmap(i % 10), linestyle=('-', '--', ':')[i // 10 % 3])
        pts = [(v['pixels'] / 1e6, v['median_s'], v['peak_mem'])
               for v in m['sizes'].values() if v.get('pixels')]
        for ax, idx, scale, exp in ((axes[0], 1, 1e3, m['latency_exponent']),
                                    (axes[1], 2, 1 / MIB, m['memory_exponent'])):
            xy = [(p[0], p[idx] * scale) for p in pts if p[idx]]
            if xy:
                ax.plot([p[0] for p in xy], [p[1] for p in xy], marker='o',
                        label=f'{name} (^{_f(exp)})', **style)
    for ax, ylabel in ((axes[0], 'latency, batch 1 (ms)'),
                       (axes[1], 'peak memory growth (MiB)')):
        ax.set_xscale('log')
        ax.set_yscale('log')
        for axis in (ax.xaxis, ax.yaxis):  # plain numbers, not 3x10^-1
            axis.set_major_formatter(ticker.FormatStrFormatter('%g'))
            axis.set_minor_formatter(ticker.FormatStrFormatter('%g'))
        ax.set_xlabel('megapixels, log scale')
        ax.set_ylabel(ylabel + ', log scale')
        ax.grid(True, which='both', alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle('Scaling with input size (slope = exponent; 1 = linear)')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
