"""tools/misc/gpu_check.py runs its checks on the CPU too (CI has no GPU): the AMP step of
every family is finite, the latency table has every backbone and MobileNetV3, and a
missing GPU is reported in one line."""
import os.path as osp
import subprocess
import sys

import pytest

from tools.misc import gpu_check

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_runs_on_cpu_and_writes_the_report(tmp_path, monkeypatch):
    everything = gpu_check.backbones()
    first = {}
    for name, arch, cls in everything:  # one arch per family keeps the test short
        first.setdefault(name, (name, arch, cls))
    monkeypatch.setattr(gpu_check, 'backbones', lambda: list(first.values()))
    out = tmp_path / 'gpu_check.md'
    code = gpu_check.main(['--device', 'cpu', '--runs', '2', '--size', '64',
                           '--batch-sizes', '1', '--out', str(out)])
    report = out.read_text()
    assert code == 0, report
    assert 'skipped: needs CUDA' in report
    for name in first:
        assert report.count(f'| {name} ') >= 2, name  # AMP row and latency row
    assert '| MobileNetV3 small | ' in report and '1.00x' in report
    assert 'checks passed' in report


@pytest.mark.skipif(__import__('torch').cuda.is_available(), reason='a GPU is present')
def test_cuda_without_gpu_says_so():
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools/misc/gpu_check.py')],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert 'torch sees no GPU' in proc.stderr
