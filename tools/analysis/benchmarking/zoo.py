"""The backbones the benchmark compares, and how ``--models`` picks among them."""
import fnmatch

# name, family, library ('mmhad' builds from mmengine's root MODELS after ``import
# mmhad``; 'mmpretrain' from ``mmpretrain.registry.MODELS``), model config.
MODEL_ZOO = [
    ('EMO-1m', 'EMO', 'mmhad', dict(type='EMO', arch='1m')),
    ('EMO-2m', 'EMO', 'mmhad', dict(type='EMO', arch='2m')),
    ('EMO-5m', 'EMO', 'mmhad', dict(type='EMO', arch='5m')),
    ('EMO-6m', 'EMO', 'mmhad', dict(type='EMO', arch='6m')),
    ('EfficientMod-xxs', 'EfficientMod', 'mmhad', dict(type='EfficientMod', arch='xxs')),
    ('EfficientMod-xs', 'EfficientMod', 'mmhad', dict(type='EfficientMod', arch='xs')),
    ('EfficientMod-s', 'EfficientMod', 'mmhad', dict(type='EfficientMod', arch='s')),
    ('EfficientMod-s_conv', 'EfficientMod', 'mmhad',
     dict(type='EfficientMod', arch='s_conv')),
    ('HadaptiveNet-s', 'HadaptiveNet', 'mmhad', dict(type='HadaptiveNet', arch='s')),
    ('HadaptiveNet-m', 'HadaptiveNet', 'mmhad', dict(type='HadaptiveNet', arch='m')),
    ('HadaptiveNet-l', 'HadaptiveNet', 'mmhad', dict(type='HadaptiveNet', arch='l')),
    ('HadamardMobileNetV3-small', 'HadamardMobileNetV3', 'mmhad',
     dict(type='HadamardMobileNetV3', arch='small')),
    ('MobileNetV2-1.0', 'MobileNetV2', 'mmpretrain',
     dict(type='MobileNetV2', widen_factor=1.0)),
    ('MobileNetV3-small', 'MobileNetV3', 'mmpretrain',
     dict(type='MobileNetV3', arch='small')),
    ('MobileNetV3-large', 'MobileNetV3', 'mmpretrain',
     dict(type='MobileNetV3', arch='large')),
    ('ResNet-18', 'ResNet', 'mmpretrain', dict(type='ResNet', depth=18)),
    ('EfficientFormer-l1', 'EfficientFormer', 'mmpretrain',
     dict(type='EfficientFormer', arch='l1')),
]
DEFAULT_BASELINE = 'MobileNetV3-large'
# Variants outside the default run, selected only by their exact name: EMO with global
# attention in stages 3-4 (``window_size=None``) instead of 7x7 windows.
VARIANTS = [
    ('EMO-1m-global', 'EMO-global', 'mmhad', dict(type='EMO', arch='1m', window_size=None)),
    ('EMO-5m-global', 'EMO-global', 'mmhad', dict(type='EMO', arch='5m', window_size=None)),
]


def select_models(patterns, baseline):
    """MODEL_ZOO entries matching ``patterns`` (exact name, glob or case-insensitive
    substring; all when empty) and VARIANTS named exactly, plus ``baseline`` unless it
    is ``'none'``."""
    if not patterns:
        chosen = list(MODEL_ZOO)
    else:
        chosen = []
        for entry in MODEL_ZOO + VARIANTS:
            name = entry[0].lower()
            if entry in VARIANTS:
                hit = any(p.lower() == name for p in patterns)
            else:
                hit = any(p.lower() == name or fnmatch.fnmatch(name, p.lower()) or
                          p.lower() in name for p in patterns)
            if hit:
                chosen.append(entry)
        if not chosen:
            raise SystemExit(f'--models {patterns} matches none of '
                             f'{[m[0] for m in MODEL_ZOO + VARIANTS]}')
    if baseline and baseline.lower() != 'none':
        names = [m[0].lower() for m in chosen]
        if baseline.lower() not in names:
            extra = [m for m in MODEL_ZOO if m[0].lower() == baseline.lower()]
            if not extra:
                raise SystemExit(f'--baseline {baseline!r} is not one of '
                                 f'{[m[0] for m in MODEL_ZOO]} (or "none")')
            chosen = chosen + extra
    return chosen
