"""tools/analysis/benchmark.py: the real CLI on one tiny model, plus the pieces of its
package tools/analysis/benchmarking/ (meters, whole-config runner, report, model zoo)."""
import importlib.util
import json
import os
import os.path as osp
import platform
import re
import subprocess
import sys
import time

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis', 'benchmark.py')
if REPO not in sys.path:
    sys.path.insert(0, REPO)  # as the scripts in tools/analysis/ do

from tools.analysis.benchmarking import meters, report, runners, zoo  # noqa: E402
from tools.analysis.benchmarking.scaling import fit_power_law  # noqa: E402
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def assert_positive_cells(header, row):
    """Times and rates are > 0; a ratio (× column) is printed to 2 decimals from one cold
    run, so a scheduler stall on a loaded machine can print 0.00: only >= 0 there."""
    for name, value in zip(header[1:], row[1:]):
        assert float(value) >= 0 if '×' in name else float(value) > 0, (name, row)
EXPECTED_COLUMNS = [
    'Model', 'Params (M)', 'FLOPs (G)', 'FLOPs ×', 'Latency bs1 (ms)', 'Latency ×',
    'Throughput bs2 (img/s)', 'Throughput ×', 'Peak mem bs1 (MiB)', 'Peak mem bs2 (MiB)'
]


def load_tool():
    """The CLI module, loaded from its file as ``python tools/analysis/benchmark.py`` is."""
    spec = importlib.util.spec_from_file_location('mmhad_benchmark_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table_after(markdown, heading):
    """Rows (lists of cells) of the first markdown table after ``heading``."""
    lines = markdown[markdown.index(heading):].splitlines()[1:]
    rows = []
    for line in lines:
        if line.startswith('|'):
            rows.append([c.strip() for c in line.strip().strip('|').split('|')])
        elif rows:
            break
    assert len(rows) >= 2 and set(rows[1][0]) == {'-'}, rows
    return rows[0], rows[2:]


def test_benchmark_cli_tiny(tmp_path):
    out_dir = tmp_path / 'bench'
    cmd = [sys.executable, TOOL, '--models', 'EMO-1m', '--baseline', 'EMO-1m',
           '--sizes', '64', '--repeat', '1', '--warmup', '0', '--batch-sizes', '1', '2',
           '--threads', '1', '--out-dir', str(out_dir)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    # Meanwhile, count the parameters of the same backbone here.
    from mmengine.registry import MODELS

    import mmhad  # noqa: F401
    expected_params = sum(
        p.numel() for p in MODELS.build(dict(type='EMO', arch='1m')).parameters())
    stdout, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]

    markdown = (out_dir / 'benchmark.md').read_text()
    assert markdown.strip() in stdout  # the table is printed too
    assert '1 intra-op thread' in markdown
    header, rows = table_after(markdown, '## Backbones, input 64×64')
    assert header == EXPECTED_COLUMNS
    assert len(rows) == 1, rows
    row = dict(zip(header, rows[0]))
    assert row['Model'] == 'EMO-1m (baseline)'
    assert row['Params (M)'] == f'{expected_params / 1e6:.3f}'
    for col in ('FLOPs ×', 'Latency ×', 'Throughput ×'):
        assert row[col] == '1.00', (col, row)
    for col in ('FLOPs (G)', 'Latency bs1 (ms)', 'Throughput bs2 (img/s)'):
        assert float(row[col]) > 0, (col, row)
    for col in ('Peak mem bs1 (MiB)', 'Peak mem bs2 (MiB)'):
        assert float(row[col]) >= 0, (col, row)
    assert '## Notes' not in markdown  # nothing skipped or failed

    raw = json.loads((out_dir / 'benchmark.json').read_text())
    (result, ) = raw['models']
    assert result['ok'] and result['params'] == expected_params
    entry = result['sizes']['64x64']
    assert entry['flops'] > 0
    assert entry['batch']['1']['runs'] == 1 and entry['batch']['2']['runs'] == 1
    assert float(row['Latency bs1 (ms)']) == pytest.approx(
        entry['batch']['1']['median_s'] * 1e3, abs=0.01)

    png = (out_dir / 'benchmark.png').read_bytes()
    assert png[:8] == PNG_SIGNATURE and len(png) > 1000


def _fake_model(name, params, flops, lat_s, bs2_s, ok=True):
    if not ok:
        return dict(name=name, kind='model', ok=False, error='build failed: boom',
                    family=name, library='mmhad')
    return dict(name=name, kind='model', ok=True, params=params, torch='x', threads=1,
                family=name.split('-')[0], library='mmhad', mem_method='VmHWM-VmRSS',
                sizes={'64x64': dict(flops=flops, batch={
                    '1': dict(median_s=lat_s, runs=1, images_per_s=1 / lat_s,
                              peak_mem=2 * 2**20),
                    '2': dict(median_s=bs2_s, runs=1, images_per_s=2 / bs2_s,
                              peak_mem=4 * 2**20)})})


def test_report_ratios_and_notes(tmp_path):
    tool = load_tool()
    args = tool.parse_args(['--sizes', '64', '--batch-sizes', '1', '2', '--baseline',
                            'Base-1'])
    results = [_fake_model('Fast-1', 1_000_000, 1e9, 0.010, 0.010),
               _fake_model('Base-1', 2_000_000, 2e9, 0.020, 0.040),
               _fake_model('Broken-1', 0, 0, 1, 1, ok=False)]
    text = report.make_report(args, results, [], [(64, 64)], 'cmd')
    header, rows = table_after(text, '## Backbones, input 64×64')
    assert header == EXPECTED_COLUMNS
    fast, base = (dict(zip(header, r)) for r in rows)
    assert base['Model'] == 'Base-1 (baseline)'
    assert (base['FLOPs ×'], base['Latency ×'], base['Throughput ×']) == \
        ('1.00', '1.00', '1.00')
    # half the FLOPs and latency, 4x the throughput (200 vs 50 img/s)
    assert (fast['FLOPs ×'], fast['Latency ×'], fast['Throughput ×']) == \
        ('0.50', '0.50', '4.00')
    assert (fast['Params (M)'], fast['Latency bs1 (ms)'], fast['Peak mem bs2 (MiB)']) == \
        ('1.000', '10.00', '4.0')
    assert re.search(r'Broken-1: skipped\*\* — build failed: boom', text)
    report.make_plot(results, [(64, 64)], [1, 2], 'Base-1', str(tmp_path / 'p.png'))
    assert (tmp_path / 'p.png').read_bytes()[:8] == PNG_SIGNATURE


def test_model_selection_adds_baseline():
    names = [m[0] for m in zoo.select_models(['EMO-1m'], 'MobileNetV3-large')]
    assert names == ['EMO-1m', 'MobileNetV3-large']
    names = [m[0] for m in zoo.select_models(['EfficientMod-*'], 'none')]
    assert names == ['EfficientMod-xxs', 'EfficientMod-xs', 'EfficientMod-s',
                     'EfficientMod-s_conv']
    assert len(zoo.select_models(None, 'MobileNetV3-large')) == len(zoo.MODEL_ZOO)
    # variants (EMO with global attention) only by their exact name
    assert 'EMO-1m-global' not in [m[0] for m in zoo.select_models(['EMO'], 'none')]
    names = [m[0] for m in zoo.select_models(['EMO-1m-global'], 'none')]
    assert names == ['EMO-1m-global']
    with pytest.raises(SystemExit):
        zoo.select_models(['no-such-model'], 'none')
    tool = load_tool()  # the CLI uses the package's zoo
    assert tool.MODEL_ZOO is zoo.MODEL_ZOO and tool.select_models is zoo.select_models


def test_time_runs_counts_and_sync():
    calls, syncs = [], []
    times = meters.time_runs(lambda: calls.append(1), warmup=2, repeat=4,
                             sync=lambda: syncs.append(1))
    assert len(times) == 4 and len(calls) == 6 and len(syncs) == 6
    assert all(t >= 0 for t in times)
    # a slow call: warm-up stops after one, timing after min(3, repeat) past max_seconds
    calls.clear()
    times = meters.time_runs(lambda: (calls.append(1), time.sleep(0.02)), warmup=5,
                             repeat=10, max_seconds=0.01)
    assert len(calls) == 1 + 3 and len(times) == 3

def test_time_runs_min_seconds_keeps_timing_past_repeat(monkeypatch):
    """min_seconds keeps timing past `repeat` (the best-of-runs use of benchmark_ach.py).
    A fake clock that only the timed call advances makes the count exact on any machine
    (a real sleep may overshoot on a loaded one)."""
    clock = [0.0]
    monkeypatch.setattr(meters.time, 'perf_counter', lambda: clock[0])

    def call():  # 1/64 s per call: exact in binary floating point
        clock[0] += 1 / 64

    times = meters.time_runs(call, warmup=0, repeat=1, min_seconds=0.25)
    assert times == [1 / 64] * 16
    assert meters.time_runs(call, warmup=0, repeat=3) == [1 / 64] * 3  # no min_seconds


def test_peak_memory_sees_an_allocation():
    with meters.PeakMemory() as mem:
        block = bytearray(64 * 2**20)  # zero-filled: every page is touched
        del block
    assert mem.method in ('VmHWM-VmRSS', 'ru_maxrss')
    if mem.method == 'VmHWM-VmRSS':  # ru_maxrss only sees a new process-wide peak
        assert 60 * 2**20 <= mem.peak < 200 * 2**20, mem.peak


# A 24 MiB tensor freed: is its memory handed back to the kernel? (a fresh process each,
# so that steady_heap() does not change the allocator of this one)
FREE_24_MIB = '''
import sys, torch
sys.path.insert(0, {repo!r})
from tools.analysis.benchmarking import meters
applied = meters.steady_heap() if {steady} else None
x = torch.ones(6 * 1024 * 1024)
before = meters._proc_status_kib('VmRSS')
del x
print(applied, (before - meters._proc_status_kib('VmRSS')) / 1024)
'''


@pytest.mark.skipif(not sys.platform.startswith('linux') or
                    platform.libc_ver()[0] != 'glibc', reason='glibc and /proc only')
def test_steady_heap_keeps_freed_memory_mapped():
    # glibc's defaults: no allocator preloaded, no malloc settings from the environment
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('MALLOC_', 'GLIBC_TUNABLES', 'LD_PRELOAD'))}

    def released_mib(steady):
        out = subprocess.run([sys.executable, '-c', FREE_24_MIB.format(
            repo=REPO, steady=steady)], capture_output=True, text=True, check=True,
            env=env)
        applied, mib = out.stdout.split()
        return applied, float(mib)

    if released_mib(False)[1] < 20:  # mmap'd and unmapped when freed, by default
        pytest.skip('this malloc keeps a freed 24 MiB block anyway: nothing to compare')
    applied, mib = released_mib(True)
    assert applied == 'True' and mib < 4  # kept for the next allocation


def test_whole_config_runner_on_a_package_config():
    """--configs with an upstream ``mmdet::`` config: loaded by the shared loader, built
    without weights (SSDHead made predictable), timed on a synthetic batch."""
    res = runners.bench_config(dict(
        name='ssdlite', path='mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py',
        size=(128, 128), threads=None, warmup=0, repeat=1, max_seconds=30,
        train_batch_size=2, train_repeat=1))
    assert res['ok'], res
    assert (res['task'], res['size']) == ('mmdet', '128x128')
    assert 'SSDHead -> SSDHeadWithPredict' in res['note']
    assert res['params'] == 4_228_788 and res['flops'] > 0, res
    for key in ('infer', 'train'):
        assert res[key]['runs'] == 1 and res[key]['median_s'] > 0, res[key]


def test_benchmark_cli_onnxruntime_and_deploy(tmp_path):
    """--onnxruntime --deploy: one tiny backbone and one tiny whole model; the runtime
    tables give PyTorch, the deploy form and ONNX Runtime side by side, with ratios."""
    pytest.importorskip('onnxruntime')
    out_dir = tmp_path / 'bench'
    cmd = [sys.executable, TOOL, '--models', 'EMO-1m', '--baseline', 'EMO-1m',
           '--sizes', '64', '--repeat', '1', '--warmup', '0', '--batch-sizes', '1', '2',
           '--threads', '1', '--onnxruntime', '--deploy', '--no-plot',
           '--configs', 'configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py',
           '--config-size', '96', '--config-train-repeat', '0', '--out-dir', str(out_dir)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    markdown = (out_dir / 'benchmark.md').read_text()
    assert '## Notes' not in markdown, markdown  # nothing failed
    assert 'ONNX Runtime' in markdown and '1 intra-op thread(s) (as PyTorch)' in markdown

    header, rows = table_after(markdown, '### Backbones, input 64×64')
    assert header == ['Model', 'PyTorch bs1 (ms)', 'Deploy bs1 (ms)', 'Deploy × bs1',
                      'ORT bs1 (ms)', 'ORT × bs1', 'PyTorch bs2 (img/s)',
                      'Deploy bs2 (img/s)', 'Deploy × bs2', 'ORT bs2 (img/s)', 'ORT × bs2']
    (row, ) = rows
    assert row[0] == 'EMO-1m'
    assert_positive_cells(header, row)

    header, rows = table_after(markdown, '### Whole models (configs), batch 1')
    assert header == ['Config', 'PyTorch test_step bs1 (ms)', 'Deploy bs1 (ms)',
                      'Deploy ×', 'ORT bs1 (ms)', 'ORT ×']
    (row, ) = rows
    assert row[0] == 'ssdlite_emo-1m_8xb24-120e_coco'
    assert_positive_cells(header, row)

    raw = json.loads((out_dir / 'benchmark.json').read_text())
    batch = raw['models'][0]['sizes']['64x64']['batch']
    for bs in ('1', '2'):
        for form in ('deploy', 'ort'):
            assert batch[bs][form]['runs'] == 1 and batch[bs][form]['median_s'] > 0
    config = raw['configs'][0]
    assert config['infer_ort']['median_s'] > 0 and config['infer_deploy']['median_s'] > 0
    assert config['train'] == {'skipped': True}  # --config-train-repeat 0


def test_fit_power_law_recovers_exact_exponents():
    pixels = [512 * 512, 768 * 768, 1024 * 1024, 1024 * 2048]
    for exponent, factor in ((1.0, 3e-7), (2.0, 1e-12), (0.5, 4.0), (1.37, 0.02)):
        e, k = fit_power_law(pixels, [factor * p ** exponent for p in pixels])
        assert e == pytest.approx(exponent, abs=1e-9)
        assert k == pytest.approx(factor, rel=1e-6)
    # points without a positive value are left out; under two points: no fit
    e, _ = fit_power_law([1, 2, 4, 8], [None, 2, 4, 0])
    assert e == pytest.approx(1.0)
    assert fit_power_law([4, 8], [None, 1]) is None
    assert fit_power_law([4, 4], [1, 2]) is None


def _scaling_result(name, family, lat_exp, mem_exp, peak_rss_gib):
    sizes = {}
    for h, w in ((64, 64), (64, 128), (128, 128)):
        p = h * w
        sizes[f'{h}x{w}'] = dict(pixels=p, median_s=1e-6 * p ** lat_exp, runs=1,
                                 peak_mem=10.0 * p ** mem_exp, flops=100 * p,
                                 peak_rss=peak_rss_gib * 2**30)
    return dict(name=name, ok=True, family=family, scaling=sizes)


def test_scaling_summary_families_and_budget():
    from tools.analysis.benchmarking.scaling import scaling_lines, scaling_summary
    results = [_scaling_result('A-1', 'A', 1.0, 1.0, 1.0),
               _scaling_result('A-2', 'A', 1.2, 2.0, 5.0),
               _scaling_result('B-1', 'B', 0.9, 0.8, 0.5),
               dict(name='C-1', ok=False, family='C', error='build failed')]
    s = scaling_summary(results, [(64, 64), (64, 128), (128, 128)], 4)
    assert s['largest'] == '128x128' and list(s['models']) == ['A-1', 'A-2', 'B-1']
    a2 = s['models']['A-2']
    assert a2['latency_exponent'] == pytest.approx(1.2)
    assert a2['memory_exponent'] == pytest.approx(2.0)
    assert a2['flops_exponent'] == pytest.approx(1.0)
    assert a2['within_budget'] is False and s['models']['A-1']['within_budget'] is True
    fam = s['families']['A']  # the largest exponent of the family's archs
    assert fam['archs'] == ['A-1', 'A-2'] and fam['within_budget'] is False
    assert (fam['latency_exponent'], fam['memory_exponent']) == \
        pytest.approx((1.2, 2.0))
    assert s['families']['B']['within_budget'] is True
    text = '\n'.join(scaling_lines(s, report.markdown_table))
    assert '- **A** (A-1, A-2): latency ∝ pixels^1.20, memory ∝ pixels^2.00' in text
    _, rows = table_after(text, '## Scaling')
    assert [r[0] for r in rows] == ['A-1', 'A-2', 'B-1']
    assert rows[1][-6:-1] == ['1.20', '2.00', '1.00', '5120', '**no**']


def test_scaling_flag_defaults():
    tool = load_tool()
    args = tool.parse_args(['--scaling'])
    assert args.scaling == ['512x512', '768x768', '1024x1024', '1024x2048']
    assert args.sizes == [] and args.memory_budget_gib == 4.0  # scaling only
    args = tool.parse_args(['--scaling', '64x64', '--sizes', '224'])
    assert (args.scaling, args.sizes) == (['64x64'], ['224'])
    assert tool.parse_args([]).scaling is None and tool.parse_args([]).sizes == \
        ['224', '512']


def test_benchmark_cli_scaling_tiny(tmp_path):
    """--scaling on one tiny model at two small sizes: the Scaling table and the JSON."""
    out_dir = tmp_path / 'bench'
    cmd = [sys.executable, TOOL, '--models', 'EMO-1m', '--baseline', 'none',
           '--scaling', '64x64', '64x128', '--repeat', '1', '--warmup', '1',
           '--threads', '1', '--out-dir', str(out_dir)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    markdown = (out_dir / 'benchmark.md').read_text()
    assert '## Notes' not in markdown, markdown
    assert '## Backbones, input' not in markdown  # --scaling alone: only the study
    header, rows = table_after(markdown, '## Scaling')
    assert header == ['Model', 'Latency 64x64 (ms)', 'Latency 64x128 (ms)',
                      'Peak mem 64x64 (MiB)', 'Peak mem 64x128 (MiB)', 'a (latency)',
                      'b (memory)', 'c (FLOPs)', 'Peak RSS 64x128 (MiB)', '≤ 4 GiB',
                      'Attention kernel']
    (row, ) = rows
    assert row[0] == 'EMO-1m' and row[-2] == 'yes'
    assert re.fullmatch(r'\w+ ×\d+(, \w+ ×\d+)*', row[-1]), row  # EMO attends
    assert all(float(v) > 0 for v in row[1:3] + row[8:9]), row
    assert all(float(v) >= 0 for v in row[3:5]), row
    assert '- **EMO** (EMO-1m): latency ∝ pixels^' in markdown

    raw = json.loads((out_dir / 'benchmark.json').read_text())
    summary = raw['scaling']
    assert summary['sizes'] == ['64x64', '64x128'] and summary['memory_budget_gib'] == 4
    model = summary['models']['EMO-1m']
    # One timed run of a ~1 ms forward is noise-sized, so the latency exponent can have
    # either sign on a busy machine: assert it is the fit of the recorded medians (a
    # property of the report, not of the machine's timing); FLOPs are deterministic.
    timed = raw['models'][0]['scaling']
    expected, _ = fit_power_law([64 * 64, 64 * 128],
                                [timed['64x64']['median_s'], timed['64x128']['median_s']])
    assert model['latency_exponent'] == pytest.approx(expected)
    assert model['flops_exponent'] > 0
    assert model['within_budget'] is True
    assert sum(raw['models'][0]['attention_kernels'].values()) > 0  # EMO attends
    for key in ('64x64', '64x128'):
        entry = raw['models'][0]['scaling'][key]
        assert entry['runs'] == 1 and entry['median_s'] > 0 and entry['flops'] > 0
        assert entry['peak_rss'] > 0 and entry['peak_mem'] >= 0
    assert raw['models'][0]['scaling']['64x128']['flops'] > \
        raw['models'][0]['scaling']['64x64']['flops']
    assert (out_dir / 'scaling.png').read_bytes()[:8] == PNG_SIGNATURE
    assert not (out_dir / 'benchmark.png').exists()  # no --sizes: no size plot
