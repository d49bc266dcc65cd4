"""Import-time checks of the stack name the problem and the fix."""
import pytest
from packaging.version import Version

from mmhad.utils import env


def test_current_environment_passes():
    assert env.version_problems() == []
    assert env.mmcv_ops_problem() is None
    env.check_environment()


def test_wrong_mmcv_version_names_requirement(monkeypatch):
    real = env._installed
    monkeypatch.setattr(env, '_installed',
                        lambda p: Version('2.2.0') if p == 'mmcv' else real(p))
    with pytest.raises(ImportError) as err:
        env.check_environment()
    assert 'mmcv 2.2.0 is installed but mmhad needs mmcv>=2.0.0,<2.2.0' in str(err.value)
    assert 'tools/install.sh' in str(err.value)


def test_setuptools_82_is_flagged(monkeypatch):
    real = env._installed
    monkeypatch.setattr(env, '_installed',
                        lambda p: Version('84.0') if p == 'setuptools' else real(p))
    assert any('pkg_resources' in p for p in env.version_problems())


def test_mmcv_without_ops_is_flagged(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == 'mmcv.ops':
            raise ModuleNotFoundError("No module named 'mmcv._ext'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', fake_import)
    problem = env.mmcv_ops_problem()
    assert problem is not None and 'MMCV_WITH_OPS=1' in problem and 'mmcv-lite' in problem


def test_import_time_check_is_versions_only(monkeypatch):
    """mmcv-lite (no compiled ops) passes ``check_environment``; what needs the ops
    raises through ``require_mmcv_ops`` with the fix."""
    problem = ("mmcv is installed without its compiled ops (No module named "
               "'mmcv._ext'); mmcv-lite cannot serve: " + env.MMCV_OPS_HINT)
    monkeypatch.setattr(env, 'mmcv_ops_problem', lambda: problem)
    env.check_environment()
    with pytest.raises(ImportError) as err:
        env.require_mmcv_ops('SSDHeadWithPredict')
    message = str(err.value)
    assert message.startswith('SSDHeadWithPredict needs mmcv\'s compiled ops (mmcv._ext)')
    assert 'MMCV_WITH_OPS=1' in message and 'tools/install.sh' in message


def test_require_mmcv_ops_passes_with_full_mmcv():
    env.require_mmcv_ops('SSDHeadWithPredict')
