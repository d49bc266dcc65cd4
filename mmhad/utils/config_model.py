"""Build the model of any mmhad config (mmdet / mmseg / mmpretrain) for analysis."""
from typing import Union

from mmengine.config import Config
from mmengine.registry import DefaultScope


def load_model_config(config: Union[str, Config], pretrained: bool = False) -> Config:
    """Read a config; drop the backbone's ``Pretrained`` init unless ``pretrained``."""
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if not pretrained and cfg.model.get('backbone') is not None:
        cfg.model.backbone.init_cfg = None
    return cfg


def build_model(cfg: Config):
    """Build ``cfg.model`` from the registry of its ``default_scope``.

    SyncBN layers (mmseg bases) become BN, since analysis runs in one process.
    """
    import mmhad  # noqa: F401
    from mmengine.model import revert_sync_batchnorm
    scope = cfg.get('default_scope', 'mmengine')
    with DefaultScope.overwrite_default_scope(scope):
        registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
        model = registry.build(cfg.model)
    return revert_sync_batchnorm(model)


def input_size(cfg: Config, default: int = 224) -> int:
    """The square input size a config trains at (SSDLite 320, ADE20K crops 512, ...)."""
    size = (cfg.get('crop_size') or (cfg.get('input_size'), ) or (None, ))[0]
    return int(size or default)
