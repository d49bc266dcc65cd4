"""tools/analysis/benchmarking/paired.py: a model and the baseline timed in one process,
in interleaved rounds (``benchmark.py --paired``)."""
import json
import os.path as osp
import statistics
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis', 'benchmark.py')
if REPO not in sys.path:
    sys.path.insert(0, REPO)  # as the scripts in tools/analysis/ do

from tools.analysis.benchmarking import meters, paired, report  # noqa: E402
from tests.tools.test_benchmark import table_after  # noqa: E402


class DriftingMachine:
    """A fake clock whose speed halves every ``period`` calls: ``work(units)`` returns a
    callable that advances the clock by ``units * 2 ** (calls_so_far // period)``."""

    def __init__(self, period):
        self.now, self.calls, self.period, self.log = 0.0, 0, period, []

    def clock(self):
        return self.now

    def work(self, name, units):
        def call():
            self.now += units * 2.0 ** (self.calls // self.period)
            self.calls += 1
            self.log.append(name)
        return call


def test_interleaved_rounds_alternates_the_order_and_counts_calls():
    machine = DriftingMachine(period=10**9)  # no drift
    fns = dict(a=machine.work('a', 1.0), b=machine.work('b', 3.0))
    times = paired.interleaved_rounds(fns, rounds=3, calls=2, warmup=1,
                                      clock=machine.clock)
    assert machine.log == ['a', 'b'] + ['a', 'a', 'b', 'b'] + ['b', 'b', 'a', 'a'] + \
        ['a', 'a', 'b', 'b']
    assert times == dict(a=[1.0] * 3, b=[3.0] * 3)
    with pytest.raises(ValueError, match='rounds and calls must be >= 1'):
        paired.interleaved_rounds(fns, rounds=0, calls=1)


def test_paired_ratio_cancels_drift_that_separate_timing_measures(monkeypatch):
    """The machine slows down 2x every round (4 calls); model a costs 1 unit, b 2.
    Per-round ratios give exactly 0.5; timing a then b separately (as one process per
    model does) puts the drift into the ratio."""
    machine = DriftingMachine(period=4)
    fns = dict(a=machine.work('a', 1.0), b=machine.work('b', 2.0))
    times = paired.interleaved_rounds(fns, rounds=5, calls=2, warmup=0,
                                      clock=machine.clock)
    stats = paired.ratio_stats(times['a'], times['b'])
    assert stats == dict(median=0.5, q1=0.5, q3=0.5, min=0.5, max=0.5, rounds=5)

    machine = DriftingMachine(period=4)
    monkeypatch.setattr(meters.time, 'perf_counter', machine.clock)
    sep = {name: meters.time_runs(machine.work(name, units), warmup=0, repeat=10)
           for name, units in (('a', 1.0), ('b', 2.0))}
    separate = statistics.median(sep['a']) / statistics.median(sep['b'])
    assert separate < 0.2  # b ran after a, on the slowed machine


def test_runtime_groups_keep_onnxruntime_apart():
    fns = {k: k for k in ('model/eager', 'model/deploy', 'model/ort', 'baseline/eager',
                          'baseline/ort')}
    assert paired.runtime_groups(fns) == [
        {'model/eager': 'model/eager', 'model/deploy': 'model/deploy',
         'baseline/eager': 'baseline/eager'},
        {'model/ort': 'model/ort', 'baseline/ort': 'baseline/ort'}]
    assert paired.runtime_groups({'model/eager': 1, 'baseline/eager': 2}) == [
        {'model/eager': 1, 'baseline/eager': 2}]


def test_ratio_stats_quartiles_and_bad_input():
    stats = paired.ratio_stats([1., 2., 3., 4.], [1., 1., 1., 1.])
    assert stats == dict(median=2.5, q1=1.75, q3=3.25, min=1., max=4., rounds=4)
    assert paired.ratio_stats([2.], [4.]) == dict(median=.5, q1=.5, q3=.5, min=.5,
                                                  max=.5, rounds=1)
    with pytest.raises(ValueError, match='equally long'):
        paired.ratio_stats([1., 2.], [1.])
    with pytest.raises(ValueError, match='non-empty'):
        paired.ratio_stats([], [])


def _fake_paired(name, ok=True):
    if not ok:
        return dict(name=name, baseline='Base', kind='paired', ok=False,
                    error='build failed: boom')
    rounds = {'model/eager': [0.02, 0.03], 'baseline/eager': [0.01, 0.01],
              'model/deploy': [0.01, 0.01]}
    slot = dict(round_s=rounds, median_s={k: sum(v) / 2 for k, v in rounds.items()},
                eager=paired.ratio_stats(rounds['model/eager'], rounds['baseline/eager']),
                deploy=paired.ratio_stats(rounds['model/deploy'],
                                          rounds['baseline/eager']))
    return dict(name=name, baseline='Base', kind='paired', ok=True, rounds=2, calls=3,
                sizes={'64x64': {'1': slot, '2': dict(error='RuntimeError: oom')}})


def test_paired_report_table_and_notes():
    lines = paired.paired_lines([_fake_paired('Fast'), _fake_paired('Broken', ok=False)],
                                report.markdown_table)
    text = '\n'.join(lines)
    assert 'against Base in one process' in text and 'timed in 2 rounds' in text
    header, rows = table_after(text, '## Paired')
    assert header == ['Model', 'Input', 'Batch', 'Pair', 'Model (ms)', 'Baseline (ms)',
                      'Time ×', 'Time × q1–q3', 'Throughput ×', 'Rounds']
    assert rows == [['Fast', '64x64', '1', 'eager', '25.00', '10.00', '2.50',
                     '2.25–2.75', '0.40', '2'],
                    ['Fast', '64x64', '1', 'deploy', '10.00', '10.00', '1.00',
                     '1.00–1.00', '1.00', '2']]
    notes = paired.paired_notes([_fake_paired('Fast'), _fake_paired('Broken', ok=False)])
    assert notes == ['- Fast paired with Base 64x64 bs2: failed — RuntimeError: oom',
                     '- **Broken paired with Base: skipped** — build failed: boom']


@pytest.mark.parametrize('argv, message', [
    (['--paired', '3', '--baseline', 'none'], 'name one'),
    (['--paired', '-1'], '--paired must be >= 0'),
    (['--paired', '2', '--paired-calls', '0'], '--paired-calls >= 1'),
    (['--paired', '2', '--scaling'], 'give at least one'),
])
def test_paired_flags_are_validated(argv, message):
    proc = subprocess.run([sys.executable, TOOL] + argv, cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-2000:]


def test_benchmark_cli_paired_tiny(tmp_path):
    """--paired with --deploy and --onnxruntime: one tiny mmhad backbone against an
    mmpretrain baseline in one process; the Paired table and the JSON agree, and every
    ratio is the summary of the per-round times the JSON records."""
    pytest.importorskip('onnxruntime')
    out_dir = tmp_path / 'bench'
    cmd = [sys.executable, TOOL, '--models', 'EMO-1m', '--baseline', 'MobileNetV3-small',
           '--sizes', '64', '--batch-sizes', '1', '2', '--repeat', '1', '--warmup', '0',
           '--threads', '1', '--deploy', '--onnxruntime', '--paired', '3',
           '--paired-calls', '1', '--no-plot', '--out-dir', str(out_dir)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    markdown = (out_dir / 'benchmark.md').read_text()
    assert '## Notes' not in markdown, markdown
    header, rows = table_after(markdown, '## Paired')
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ('EMO-1m', '64x64', bs, pair) for bs in ('1', '2')
        for pair in ('eager', 'deploy', 'deploy_fused', 'ort')]
    raw = json.loads((out_dir / 'benchmark.json').read_text())
    (res, ) = raw['paired']  # the baseline is not paired with itself
    assert res['ok'] and (res['name'], res['baseline']) == ('EMO-1m', 'MobileNetV3-small')
    for row in rows:
        slot = res['sizes']['64x64'][row[2]]
        key = row[3]
        num, den = next((n, d) for k, n, d, _ in paired.PAIRS if k == key)
        a, b = slot['round_s'][f'model/{num}'], slot['round_s'][f'baseline/{den}']
        assert len(a) == len(b) == 3 and min(a + b) > 0
        assert slot[key] == paired.ratio_stats(a, b)  # the stats of the recorded rounds
        assert row[6] == f'{slot[key]["median"]:.2f}' and row[9] == '3'
        assert slot[key]['min'] <= slot[key]['median'] <= slot[key]['max']


def test_benchmark_cli_paired_configs_tiny(tmp_path):
    """--paired with --configs: each config against its task's baseline config (the
    upstream ``mmdet::`` one), test_step and train_step in one process."""
    out_dir = tmp_path / 'bench'
    cmd = [sys.executable, TOOL, '--models', 'EMO-1m', '--baseline', 'MobileNetV3-small',
           '--sizes', '64', '--batch-sizes', '1', '--repeat', '1', '--warmup', '0',
           '--threads', '1', '--paired', '2', '--paired-calls', '1', '--no-plot',
           '--configs', 'configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py',
           'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py',
           '--config-size', '96', '--config-train-repeat', '1', '--out-dir', str(out_dir)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    markdown = (out_dir / 'benchmark.md').read_text()
    header, rows = table_after(markdown, '### Whole models (configs), paired')
    assert header == ['Config', 'Baseline', 'Step', 'Config (ms)', 'Baseline (ms)',
                      'Time ×', 'Time × q1–q3', 'Rounds']
    assert [r[:3] for r in rows] == [
        ['ssdlite_emo-1m_8xb24-120e_coco', 'ssdlite_mobilenetv2-scratch_8xb24-600e_coco',
         step] for step in ('test_step bs1', 'train_step bs2')]
    raw = json.loads((out_dir / 'benchmark.json').read_text())
    kinds = sorted(r['kind'] for r in raw['paired'])
    assert kinds == ['paired', 'paired_config']  # the baseline config is not paired
    res = next(r for r in raw['paired'] if r['kind'] == 'paired_config')
    assert res['ok'] and res['model_size'] == res['baseline_size'] == '96x96'
    for row, step in zip(rows, ('infer', 'train')):
        slot = res['steps'][step]
        assert slot['ratio'] == paired.ratio_stats(slot['round_s']['model'],
                                                   slot['round_s']['baseline'])
        assert row[5] == f'{slot["ratio"]["median"]:.2f}' and row[7] == '2'
