"""Check that a config's dataset files exist before the Runner is built.

Without this, a missing COCO or ADE20K root surfaces as a FileNotFoundError deep inside
a dataset class after the model was built. Here the user gets one message that names the
missing path, what belongs there and how to get it.
"""
import os.path as osp
from typing import List, Optional, Tuple

# dataset type -> (what belongs at the data root, where to get it)
DATASET_HINTS = {
    'CocoDataset': (
        'COCO 2017: annotations/instances_{train,val}2017.json, train2017/, val2017/',
        'download it from cocodataset.org (or with mmdet\'s '
        'tools/misc/download_dataset.py --dataset-name coco2017)'),
    'ADE20KDataset': (
        'ADEChallengeData2016/: images/{training,validation}/*.jpg and '
        'annotations/{training,validation}/*.png',
        'download ADEChallengeData2016.zip from the MIT Scene Parsing benchmark '
        '(mmseg docs: dataset_prepare.md#ade20k) and unzip it there'),
    'ImageNet': (
        'ImageNet-1k: train/, val/ (class folders) and meta/{train,val}.txt',
        'download ILSVRC2012 from image-net.org and prepare it as in mmpretrain\'s '
        'docs (dataset_prepare.md#imagenet)'),
    'CIFAR100': (
        'cifar-100-python/ (the python pickle version)',
        'download cifar-100-python.tar.gz from cs.toronto.edu/~kriz/cifar.html and '
        'extract it there (mmpretrain does not download it offline)'),
}
DEMO_HINT = ('To try mmhad without the dataset, run the demo instead: `make demo` '
             '(configs/demo/ trains on generated data).')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


class MissingDataError(FileNotFoundError):
    """A config names a dataset path that does not exist."""


def _datasets(cfg_dataset, where) -> List[Tuple[dict, str]]:
    """Flatten dataset wrappers (RepeatDataset, ConcatDataset, ...) into leaves."""
    if cfg_dataset is None:
        return []
    if 'datasets' in cfg_dataset:
        return [leaf for i, d in enumerate(cfg_dataset['datasets'])
                for leaf in _datasets(d, f'{where}.datasets[{i}]')]
    if 'dataset' in cfg_dataset:
        return _datasets(cfg_dataset['dataset'], f'{where}.dataset')
    return [(cfg_dataset, where)]


def _short_type(dataset_type) -> str:
    name = dataset_type if isinstance(dataset_type, str) else getattr(
        dataset_type, '__name__', str(dataset_type))
    return name.split('.')[-1]


def _missing_paths(dataset: dict, where: str) -> List[Tuple[str, str]]:
    root = dataset.get('data_root') or ''
    problems = []
    if root and not osp.isdir(root):
        return [(root, f'{where}.data_root')]
    ann = dataset.get('ann_file') or ''
    if ann:
        path = ann if osp.isabs(ann) else osp.join(root, ann)
        if not osp.exists(path):
            problems.append((path, f'{where}.ann_file'))
    prefixes = dataset.get('data_prefix') or {}
    if isinstance(prefixes, str):
        prefixes = {'data_prefix': prefixes}
    for key, prefix in prefixes.items():
        if not isinstance(prefix, str) or not prefix or '://' in prefix:
            continue
        path = prefix if osp.isabs(prefix) else osp.join(root, prefix)
        if not osp.exists(path):
            problems.append((path, f'{where}.data_prefix.{key}'))
    return problems


def find_missing_data(cfg, loaders=LOADERS) -> List[Tuple[str, str, str]]:
    """Return (missing path, config key, dataset type) for every missing dataset path."""
    missing = []
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not loader_cfg:
            continue
        for dataset, where in _datasets(loader_cfg.get('dataset'), f'{loader}.dataset'):
            for path, key in _missing_paths(dataset, where):
                missing.append((path, key, _short_type(dataset.get('type', '?'))))
    return missing


# where a backbone's official ImageNet weights come from (they load as they are)
OFFICIAL_WEIGHTS = {
    'EMO': 'the official zhangzjn/EMO net.pth',
    'EfficientMod': 'the official ma-xu/EfficientMod checkpoint',
}


def check_pretrained_exists(cfg, config_path: Optional[str] = None) -> None:
    """Raise if ``model.backbone.init_cfg`` names a local checkpoint that is missing.

    Otherwise MMEngine would only fail in ``init_weights``, after building everything.
    """
    backbone = (cfg.get('model') or {}).get('backbone') or {}
    init_cfg = backbone.get('init_cfg') or {}
    checkpoint = init_cfg.get('checkpoint') if init_cfg.get('type') == 'Pretrained' else None
    if not checkpoint or '://' in checkpoint or osp.isfile(checkpoint):
        return
    official = OFFICIAL_WEIGHTS.get(backbone.get('type'))
    how = (f'put {official} there as it is (converted on load; where it is published: '
           f'configs/*/metafile.yml)' if official else
           'put the ImageNet-pretrained backbone checkpoint there')
    name = f' in {config_path}' if config_path else ''
    raise MissingDataError(
        f'Pretrained backbone checkpoint {checkpoint!r} (model.backbone.init_cfg'
        f'{name}) does not exist: {how}, point init_cfg.checkpoint at it, or train from '
        'scratch with --cfg-options model.backbone.init_cfg=None')


def check_data_exists(cfg, loaders=LOADERS, config_path: Optional[str] = None) -> None:
    """Raise :class:`MissingDataError` with a full explanation if data is missing."""
    missing = find_missing_data(cfg, loaders)
    if not missing:
        return
    seen, lines = set(), []
    for path, key, dtype in missing:
        if path in seen:
            continue
        seen.add(path)
        lines.append(f'  - {path!r} (from {key}, dataset {dtype})')
    hints = []
    for dtype in dict.fromkeys(d for _, _, d in missing):
        what, where = DATASET_HINTS.get(dtype, (None, None))
        if what:
            hints.append(f'{dtype} expects {what}; {where}.')
    name = f' of {config_path}' if config_path else ''
    raise MissingDataError(
        f'The dataset{name} is not where the config says:\n' + '\n'.join(lines) + '\n' +
        ('\n'.join(hints) + '\n' if hints else '') +
        'Put the data there, or point the config at it, e.g. --cfg-options '
        f'{missing[0][1].rsplit(".", 1)[0]}.data_root=/path/to/data/\n' + DEMO_HINT)


def prepare_data(cfg, loaders=LOADERS, config_path: Optional[str] = None) -> None:
    """Generate demo data a config asks for (``demo_data=dict(out=...)``), then check."""
    demo = cfg.get('demo_data')
    if demo:
        from mmhad.utils.demo_data import ensure_demo_data
        demo = dict(demo)
        ensure_demo_data(demo.pop('out'), **demo)
    check_data_exists(cfg, loaders, config_path)
    if 'train_dataloader' in loaders:
        check_pretrained_exists(cfg, config_path)
