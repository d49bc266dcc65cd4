"""tools/analysis/get_flops.py prints a config's params and FLOPs at its own size, for
mmhad configs and for configs of the installed mmdet / mmseg (``pkg::`` paths)."""
import importlib.util
import os.path as osp
import re
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools/analysis/get_flops.py')


def load_tool():
    spec = importlib.util.spec_from_file_location('get_flops', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def rows_of(text):
    """{config: (input, params M, FLOPs G)} of the printed table."""
    return {m[0]: (m[1], float(m[2]), float(m[3])) for m in re.findall(
        r'^\| (\S+) \| (\d+x\d+) \| ([\d.]+) \| ([\d.]+) \|$', text, re.M)}


def test_get_flops_row_for_ssdlite_emo1m(capsys):
    load_tool().main([osp.join(REPO, 'configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py'),
                      '--no-attention'])
    # EMO paper Table 8: 2.3 M params, 0.6 G FLOPs (attention matmuls not counted)
    assert '| ssdlite_emo-1m_8xb24-120e_coco.py | 320x320 | 2.31 | 0.57 |' in capsys.readouterr().out


def test_get_flops_cli_on_package_configs():
    """The real command line on an upstream mmdet and mmseg config, at a tiny size."""
    proc = subprocess.run(
        [sys.executable, TOOL, 'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py',
         'mmseg::cgnet/cgnet_fcn_4xb8-60k_cityscapes-512x1024.py', '--size', '64'],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    rows = rows_of(proc.stdout)
    # params of the upstream models as built (mmdet: SSDLite-MobileNetV2 4.23 M;
    # mmseg: CGNet-M3N21 0.50 M)
    ssd = rows['ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py']
    cgnet = rows['cgnet_fcn_4xb8-60k_cityscapes-512x1024.py']
    assert ssd[:2] == ('64x64', 4.23) and ssd[2] > 0, rows
    assert cgnet[:2] == ('64x64', 0.50) and cgnet[2] > 0, rows


def test_get_flops_cfg_options(capsys):
    """--cfg-options reach the model: 10 classes instead of 1000 drop 990 x 1281 params
    of MobileNetV2's linear head."""
    tool = load_tool()
    config = 'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py'
    name = 'mobilenet-v2_8xb32_in1k.py'
    tool.main([config, '--size', '32'])
    full = rows_of(capsys.readouterr().out)[name]
    tool.main([config, '--size', '32', '--cfg-options', 'model.head.num_classes=10'])
    narrow = rows_of(capsys.readouterr().out)[name]
    assert full[:2] == ('32x32', 3.50) and narrow[:2] == ('32x32', 2.24), (full, narrow)
