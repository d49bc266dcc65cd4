"""tools/analysis/benchmark.py: the real CLI on one tiny model, plus its report logic."""
import importlib.util
import json
import os.path as osp
import re
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis', 'benchmark.py')
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
EXPECTED_COLUMNS = [
    'Model', 'Params (M)', 'FLOPs (G)', 'FLOPs ×', 'Latency bs1 (ms)', 'Latency ×',
    'Throughput bs2 (img/s)', 'Throughput ×', 'Peak mem bs1 (MiB)', 'Peak mem bs2 (MiB)'
]


def load_tool():
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
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]

    report = (out_dir / 'benchmark.md').read_text()
    assert report.strip() in stdout  # the table is printed too
    assert '1 intra-op thread' in report
    header, rows = table_after(report, '## Backbones, input 64×64')
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
    assert '## Notes' not in report  # nothing skipped or failed

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
    report = tool.make_report(args, results, [], [(64, 64)], 'cmd')
    header, rows = table_after(report, '## Backbones, input 64×64')
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
    assert re.search(r'Broken-1: skipped\*\* — build failed: boom', report)
    tool.make_plot(results, [(64, 64)], [1, 2], 'Base-1', str(tmp_path / 'p.png'))
    assert (tmp_path / 'p.png').read_bytes()[:8] == PNG_SIGNATURE


def test_model_selection_adds_baseline():
    tool = load_tool()
    names = [m[0] for m in tool.select_models(['EMO-1m'], 'MobileNetV3-large')]
    assert names == ['EMO-1m', 'MobileNetV3-large']
    names = [m[0] for m in tool.select_models(['EfficientMod-*'], 'none')]
    assert names == ['EfficientMod-xxs', 'EfficientMod-xs', 'EfficientMod-s',
                     'EfficientMod-s_conv']
    assert len(tool.select_models(None, 'MobileNetV3-large')) == len(tool.MODEL_ZOO)
    with pytest.raises(SystemExit):
        tool.select_models(['no-such-model'], 'none')
