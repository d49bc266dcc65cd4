"""The one way mmhad's tools and tests read a config and build its model.

* :func:`load_config` reads a config file, a ``pkg::rel/path.py`` config of an installed
  OpenMMLab package (``mmdet::``, ``mmseg::``, ``mmpretrain::``; resolved by MMEngine's
  own ``_base_`` machinery) or takes a :class:`~mmengine.config.Config`, applies
  ``--cfg-options`` style overrides and makes the config's ``default_scope`` the current
  MMEngine scope, so that ``mmdet`` / ``mmseg`` / ``mmpretrain`` registries resolve.
* :func:`load_model_config` is :func:`load_config` without pretrained weights.
* :func:`build_model` builds ``cfg.model`` in the registry of its ``default_scope``.
* :func:`input_size` is the network input a config evaluates at.
"""
import copy
import os
import os.path as osp
from typing import Optional, Tuple, Union

from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

ConfigLike = Union[str, os.PathLike, Config]


def resolve_config_path(config: Union[str, os.PathLike]) -> Tuple[str, Optional[str]]:
    """``(file, scope)`` of a config: a file path as is (scope ``None``), or
    ``pkg::rel/path.py`` as the file in the installed package's ``.mim/configs`` (scope
    ``pkg``), the way MMEngine resolves ``_base_ = 'pkg::...'``.

    Raises ``FileNotFoundError`` (naming the path) when there is no such file, and
    ``ValueError`` for an unknown or uninstalled package.
    """
    path = os.fspath(config)
    if osp.isfile(path):
        return path, None
    if '::' not in path:
        raise FileNotFoundError(f'config {path!r} does not exist.')
    try:
        # what Config.fromfile runs for a `pkg::` entry of `_base_` (MMEngine >= 0.7)
        file, scope = Config._get_cfg_path(path, '')
    except FileNotFoundError as exc:
        raise FileNotFoundError(f'config {path!r} does not exist ({exc}).') from None
    except (AssertionError, ValueError, ModuleNotFoundError) as exc:
        raise ValueError(f'config {path!r}: cannot resolve the package config: '
                         f'{exc}') from None
    if not osp.isfile(file):
        raise FileNotFoundError(f'config {path!r} does not exist ({file!r}).')
    return file, scope


def load_config(config: ConfigLike, cfg_options: Optional[dict] = None,
                init_scope: bool = True) -> Config:
    """Read ``config`` (file path, ``pkg::rel/path.py`` or ``Config``).

    ``cfg_options`` (a dict such as ``DictAction`` parses from ``--cfg-options``) is merged
    in; a ``Config`` passed in is copied first then, never changed. A package config
    without ``default_scope`` gets the package's. With ``init_scope`` the config's
    ``default_scope`` (``'mmengine'`` when it has none) becomes MMEngine's current scope.
    """
    if isinstance(config, Config):
        cfg = copy.deepcopy(config) if cfg_options else config
    else:
        file, scope = resolve_config_path(config)
        cfg = Config.fromfile(file)
        if scope and not cfg.get('default_scope'):
            cfg.default_scope = scope
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if init_scope:
        init_default_scope(cfg.get('default_scope') or 'mmengine')
    return cfg


def load_model_config(config: ConfigLike, pretrained: bool = False,
                      cfg_options: Optional[dict] = None) -> Config:
    """:func:`load_config`; unless ``pretrained``, drop the backbone's ``init_cfg``
    (ImageNet ``Pretrained`` weights) and the model's ``pretrained`` checkpoint."""
    cfg = load_config(config, cfg_options)
    if not pretrained and cfg.get('model') is not None:
        if cfg.model.get('backbone') is not None:
            cfg.model.backbone.init_cfg = None
        if cfg.model.get('pretrained') is not None:
            cfg.model.pretrained = None
    return cfg


def strip_init_cfg(model_cfg) -> None:
    """In place, recursively: ``pretrained=None`` and ``init_cfg=None`` everywhere (no
    checkpoint downloads; for analysis builds whose weights are random anyway)."""
    if isinstance(model_cfg, dict):
        if 'pretrained' in model_cfg:
            model_cfg['pretrained'] = None
        if model_cfg.get('init_cfg') is not None:
            model_cfg['init_cfg'] = None
        for v in model_cfg.values():
            strip_init_cfg(v)
    elif isinstance(model_cfg, (list, tuple)):
        for v in model_cfg:
            strip_init_cfg(v)


def build_model(cfg: Config):
    """Build ``cfg.model`` from the registry of its ``default_scope``.

    A top-level ``data_preprocessor`` (mmpretrain configs) goes into the model when the
    model has none, as MMEngine's Runner does. SyncBN layers (mmseg bases) become BN,
    since analysis runs in one process.
    """
    import mmhad  # noqa: F401
    from mmengine.model import revert_sync_batchnorm
    scope = cfg.get('default_scope') or 'mmengine'
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', copy.deepcopy(cfg.data_preprocessor))
    with DefaultScope.overwrite_default_scope(scope):
        registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
        model = registry.build(model_cfg)
    return revert_sync_batchnorm(model)


def input_size(cfg: Config, default=(224, 224)) -> Tuple[int, int]:
    """The network input ``(h, w)`` a config evaluates at: ``crop_size``, else the test
    pipeline's crop (``CenterCrop``), else its ``Resize*`` scale (the short side when the
    aspect ratio is kept), else ``default``. SSDLite: 320x320, ADE20K: 512x512."""
    if cfg.get('crop_size'):
        h, w = cfg.crop_size
        return int(h), int(w)
    for key in ('test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset', {})
        while 'pipeline' not in dataset and 'dataset' in dataset:
            dataset = dataset['dataset']
        pipeline = dataset.get('pipeline') or []
        for t in pipeline:
            if 'CenterCrop' in str(t.get('type', '')) and t.get('crop_size'):
                size = t['crop_size']
                return (size, size) if isinstance(size, int) else (int(size[1]),
                                                                    int(size[0]))
        for t in pipeline:
            if 'Resize' in str(t.get('type', '')) and t.get('scale'):
                scale = t['scale']
                if isinstance(scale, int):
                    return scale, scale
                w, h = scale  # mmcv / mmdet scales are (w, h)
                if t.get('keep_ratio'):
                    return min(w, h), min(w, h)
                return int(h), int(w)
    return tuple(default)
