"""tools/deployment/export_onnx.py: one arch per family and the ACH layer to ONNX, checked
with onnxruntime (relative error <= 1e-4) at two batch sizes (dynamic batch axis)."""
import importlib.util
import os.path as osp
import re

import pytest
import torch
from torch import nn

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

import mmhad  # noqa: E402,F401
from mmengine.registry import MODELS  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    'export_onnx', osp.join(REPO, 'tools/deployment/export_onnx.py'))
export_onnx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(export_onnx)


pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


def run(capsys, *argv):
    code = export_onnx.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def errors_of(text):
    return [float(v) for v in re.findall(r'max relative error onnxruntime vs PyTorch = '
                                         r'([\d.e+-]+)', text)]


def assert_dynamic_batch(path, num_outputs):
    import onnx
    graph = onnx.load(str(path)).graph
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == 'batch'
    assert len(graph.output) == num_outputs
    for out in graph.output:
        assert out.type.tensor_type.shape.dim[0].dim_param == 'batch'


@pytest.mark.parametrize('family, arch, size', [
    ('EMO', '1m', (64, 64)),
    ('EfficientMod', 'xxs', (64, 64)),
    ('HadaptiveNet', 's', (96, 80)),  # ACH (DySoft and BN products) inside
])
def test_export_backbone(family, arch, size, tmp_path, capsys):
    out = tmp_path / f'{family}.onnx'
    code, text = run(capsys, '--backbone', family, '--arch', arch, '--shape', *size,
                     '--batch', 2, '--out', out)
    assert code == 0, text
    errors = errors_of(text)
    assert len(errors) == 4 and max(errors) <= 1e-4, text
    assert 'OK: onnxruntime matches PyTorch' in text
    assert_dynamic_batch(out, 4)


@pytest.mark.parametrize('family, arch', [
    ('EMO', '1m'), ('HadaptiveNet', 's'),
    ('EfficientMod', 'xxs'),  # LinearGELU: standard ops while exporting
])
def test_export_backbone_deploy_form(family, arch, tmp_path, capsys):
    """--deploy exports switch_to_deploy()'s form; the check compares it with the
    training form (eval), so the folding is verified too."""
    out = tmp_path / f'{family}.onnx'
    code, text = run(capsys, '--backbone', family, '--arch', arch, '--shape', 64, 64,
                     '--deploy', '--out', out)
    assert code == 0, text
    assert ', deploy form at input' in text
    errors = errors_of(text)
    assert len(errors) == 4 and max(errors) <= 1e-4, text


@pytest.mark.parametrize('norm', ['BN', 'CrossHadaNorm', 'DySoft'])
def test_export_ach_layer(norm, tmp_path, capsys):
    out = tmp_path / 'ach.onnx'
    code, text = run(capsys, '--ach', 24, 7, '--ach-norm', norm, '--shape', 9, 11,
                     '--out', out)
    assert code == 0, text
    errors = errors_of(text)
    assert len(errors) == 1 and errors[0] <= 1e-4, text
    assert_dynamic_batch(out, 1)


def _randomise_norms(model, seed=0):
    """Non-trivial BN statistics and affine parameters, so folding them is exercised."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
            m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
            m.weight.data.copy_(1 + 0.2 * torch.randn(c, generator=gen))
            m.bias.data.copy_(0.2 * torch.randn(c, generator=gen))
    return model


def test_export_from_config_with_checkpoint(tmp_path, capsys):
    """A detector config's backbone with trained-looking weights from a full checkpoint."""
    config = osp.join(REPO, 'configs/emo/retinanet_emo-1m_fpn_8xb4-1x_coco.py')
    backbone = _randomise_norms(MODELS.build(dict(type='EMO', arch='1m', window_size=7)))
    ckpt = tmp_path / 'detector.pth'
    torch.save({'state_dict': {**{f'backbone.{k}': v for k, v in
                                  backbone.state_dict().items()},
                               'bbox_head.retina_cls.weight': torch.zeros(9, 4, 3, 3)},
                'meta': {}}, ckpt)
    out = tmp_path / 'retinanet_backbone.onnx'
    code, text = run(capsys, config, '--checkpoint', ckpt, '--shape', 64, 96, '--out', out)
    assert code == 0, text
    assert max(errors_of(text)) <= 1e-4, text


def test_export_from_package_config(tmp_path, capsys):
    """A ``pkg::`` config of an installed library (the shared config loader): its
    backbone comes from that library's registry (its default scope)."""
    out = tmp_path / 'mobilenet_v2.onnx'
    code, text = run(capsys, 'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
                     '--shape', 32, 32, '--out', out)
    assert code == 0, text
    assert 'exported MobileNetV2(' in text and max(errors_of(text)) <= 1e-4, text


def test_wrong_checkpoint_is_refused(tmp_path, capsys):
    ckpt = tmp_path / 'emo2m.pth'
    torch.save({'state_dict': MODELS.build(dict(type='EMO', arch='2m')).state_dict()}, ckpt)
    code, text = run(capsys, '--backbone', 'EMO', '--arch', '1m', '--checkpoint', ckpt,
                     '--shape', 64, 64, '--out', tmp_path / 'x.onnx')
    assert code == 2 and 'shape mismatches' in text, text
    assert not (tmp_path / 'x.onnx').exists()


def test_check_is_not_vacuous(tmp_path, capsys):
    """A tolerance no float computation meets makes the tool fail."""
    code, text = run(capsys, '--backbone', 'EMO', '--arch', '1m', '--shape', 32, 32,
                     '--rtol', 0, '--out', tmp_path / 'emo.onnx')
    assert code == 1 and 'FAILED' in text, text


def test_needs_exactly_one_source(tmp_path):
    with pytest.raises(SystemExit):
        export_onnx.main(['--out', str(tmp_path / 'x.onnx')])
    with pytest.raises(SystemExit):
        export_onnx.main(['--backbone', 'EMO', '--ach', '8', '3', '--out',
                          str(tmp_path / 'x.onnx')])
