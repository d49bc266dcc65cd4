"""One registration in MMEngine's root MODELS serves mmdet, mmseg and mmpretrain."""
import subprocess
import sys
import textwrap

import pytest
import torch

import mmhad  # noqa: F401


@pytest.mark.parametrize('library', ['mmdet', 'mmseg', 'mmpretrain'])
def test_mmhad_backbone_builds_from_downstream_registry(library):
    registry = __import__(f'{library}.registry', fromlist=['MODELS']).MODELS
    backbone = registry.build(dict(type='EMO', arch='1m', out_indices=(3, )))
    assert type(backbone).__module__.startswith('mmhad.')
    assert backbone(torch.rand(1, 3, 64, 64))[0].shape[1] == backbone.out_channels[3]


def test_norm_layer_builds_through_mmcv():
    from mmcv.cnn import build_norm_layer
    name, layer = build_norm_layer(dict(type='LN2d'), 8)
    x = torch.randn(2, 8, 3, 5)
    ref = torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (8, )).permute(0, 3, 1, 2)
    torch.testing.assert_close(layer(x), ref)
    assert name.startswith('ln')


def test_custom_imports_in_a_config(tmp_path):
    """A fresh interpreter that never imports mmhad itself builds type='EMO' via config."""
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(textwrap.dedent("""
        custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)
        model = dict(type='EMO', arch='2m', out_indices=(0, 1, 2, 3))
    """))
    code = textwrap.dedent(f"""
        import sys
        from mmengine.config import Config
        from mmdet.registry import MODELS
        assert 'mmhad' not in sys.modules
        cfg = Config.fromfile({str(cfg)!r})
        model = MODELS.build(cfg.model)
        print(type(model).__module__, model.out_channels)
    """)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith('mmhad.models.backbones.emo')
