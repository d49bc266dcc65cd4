"""tools/analysis/get_flops.py prints a config's params and FLOPs at its own size."""
import importlib.util
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_get_flops_row_for_ssdlite_emo1m(capsys):
    spec = importlib.util.spec_from_file_location(
        'get_flops', osp.join(REPO, 'tools/analysis/get_flops.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tool.main([osp.join(REPO, 'configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py'), '--no-attention'])
    # EMO paper Table 8: 2.3 M params, 0.6 G FLOPs (attention matmuls not counted)
    assert '| ssdlite_emo-1m_8xb24-120e_coco.py | 320x320 | 2.31 | 0.57 |' in capsys.readouterr().out
