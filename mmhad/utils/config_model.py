"""Build the model of any mmhad config (mmdet / mmseg / mmpretrain) for analysis."""
from typing import Tuple, Union

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
