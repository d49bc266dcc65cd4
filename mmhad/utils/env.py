"""Checks of the stack mmhad runs on.

Each failure names what is wrong and the exact command that fixes it, instead of the
AttributeError / ImportError a version mismatch produces deep inside mmdet or mmcv.
``import mmhad`` runs the version checks (:func:`check_environment`); mmcv's compiled
ops (``mmcv._ext``, absent from mmcv-lite) are checked only where they are needed
(:func:`require_mmcv_ops`: the SSD head; ``tools/misc/verify_install.py``).
"""
from importlib import metadata

from packaging.version import Version

INSTALL_HINT = 'Run `bash tools/install.sh` from the mmhad checkout (idempotent).'

# package -> (minimum inclusive, maximum exclusive); the ranges mmdet 3.3 / mmseg 1.2 /
# mmpretrain 1.2 accept together (mmcv < 2.2.0 is asserted by mmdet and mmseg).
REQUIRED = {
    'torch': ('2.0.0', None),
    'mmengine': ('0.10.0', '1.0.0'),
    'mmcv': ('2.0.0', '2.2.0'),
}
OPTIONAL = {
    'mmdet': ('3.0.0', '3.4.0'),
    'mmsegmentation': ('1.0.0', '1.3.0'),
    'mmpretrain': ('1.0.0', '1.3.0'),
}


def _installed(package):
    try:
        return Version(metadata.version(package))
    except metadata.PackageNotFoundError:
        return None


def _range_text(low, high):
    return f'>={low}' + (f',<{high}' if high else '')


def version_problems():
    """Return a list of human-readable version problems (empty when all is well)."""
    problems = []
    for table, required in ((REQUIRED, True), (OPTIONAL, False)):
        for package, (low, high) in table.items():
            found = _installed(package)
            if found is None:
                if required:
                    problems.append(f'{package} is not installed (need '
                                    f'{_range_text(low, high)}).')
                continue
            if found < Version(low) or (high and found >= Version(high)):
                problems.append(f'{package} {found} is installed but mmhad needs '
                                f'{package}{_range_text(low, high)}.')
    setuptools = _installed('setuptools')
    if setuptools is not None and setuptools >= Version('82'):
        problems.append(f'setuptools {setuptools} removed pkg_resources, which mmengine '
                        'imports for `mmdet::` config bases; pin "setuptools>=77,<82".')
    return problems


MMCV_OPS_HINT = ('build mmcv==2.1.0 from source with MMCV_WITH_OPS=1 and '
                 '--no-build-isolation.')


def mmcv_ops_problem():
    """Return why ``mmcv.ops`` is unusable, or None when its compiled ops load.

    Not part of :func:`check_environment`: only what runs mmcv's compiled ops (mmdet's
    detectors, :class:`mmhad.models.heads.SSDHeadWithPredict`) needs them, so
    ``import mmhad`` works on mmcv-lite for classification and segmentation backbones.
    """
    try:
        from mmcv.ops import nms  # noqa: F401
    except (ImportError, ModuleNotFoundError, OSError) as exc:
        return (f'mmcv is installed without its compiled ops ({exc}); mmdet needs '
                'them (nms, RoIAlign). mmcv-lite cannot serve: ' + MMCV_OPS_HINT)
    return None


def require_mmcv_ops(what: str) -> None:
    """Raise ImportError naming ``what`` and the fix when ``mmcv._ext`` cannot load."""
    problem = mmcv_ops_problem()
    if problem:
        raise ImportError(f'{what} needs mmcv\'s compiled ops (mmcv._ext): {problem}\n'
                          f'{INSTALL_HINT}')


def check_environment():
    """Raise ImportError when a package's version is outside what mmhad supports.

    Version checks only (what ``import mmhad`` runs); mmcv's compiled ops are checked
    by :func:`require_mmcv_ops` where they are used, and by
    ``tools/misc/verify_install.py``.
    """
    problems = version_problems()
    if problems:
        raise ImportError('mmhad cannot run on this environment:\n  - ' +
                          '\n  - '.join(problems) + f'\n{INSTALL_HINT}')
