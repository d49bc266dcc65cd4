"""Translation of official recipes (mmdet 2 / mmseg 0.x / timm / conductor terms) into
OpenMMLab 2.0 terms, and one check per field (used by ``test_recipe_fidelity.py``).

Each check takes ``(config_path, resolved_cfg, official_run)`` and raises an
``AssertionError`` naming the field when our config differs from the transcription.
"""
import copy
import functools
import json
import math
import os.path as osp
import re

import torch
import yaml
from mmengine.config import Config

from mmhad.utils.config_model import build_model

HERE = osp.dirname(osp.abspath(__file__))
DATA = osp.join(osp.dirname(HERE), 'data')

# our config -> (transcription file, official run id)
CONFIGS = {
    **{f'configs/emo/ssdlite_emo-{a}_8xb24-120e_coco.py': ('emo_det', f'emo-{a}_ssdlite')
       for a in ('1m', '2m', '5m')},
    'configs/emo/ssdlite_emo5m_coco.py': ('emo_det', 'emo-5m_ssdlite'),  # flagship alias
    **{f'configs/emo/retinanet_emo-{a}_fpn_8xb4-1x_coco.py': ('emo_det', f'emo-{a}_retinanet')
       for a in ('1m', '2m', '5m')},
    **{f'configs/emo/{m}_emo-{a}_8xb4-80k_ade20k-512x512.py': ('emo_seg_cls', f'emo-{a}_{m}')
       for a in ('1m', '2m', '5m') for m in ('deeplabv3', 'pspnet')},
    **{f'configs/emo/emo-{a}_8xb256-300e_in1k.py': ('emo_seg_cls', f'emo-{a}_in1k')
       for a in ('1m', '2m', '5m', '6m')},
    **{f'configs/efficientmod/mask-rcnn_efficientmod-{n}_fpn_8xb4-1x_coco.py':
       ('efficientmod', f'efficientmod-{a}_mask-rcnn') for n, a in (('s', 's'), ('s-conv', 's_conv'))},
    **{f'configs/efficientmod/fpn_efficientmod-{n}_8xb4-40k_ade20k-512x512.py':
       ('efficientmod', f'efficientmod-{a}_fpn') for n, a in (('s', 's'), ('s-conv', 's_conv'))},
    **{f'configs/efficientmod/efficientmod-{n}_8xb256-310e_in1k.py':
       ('efficientmod', f'efficientmod-{a}_in1k')
       for n, a in (('xxs', 'xxs'), ('xs', 'xs'), ('s', 's'), ('s-conv', 's_conv'))},
    **{f'configs/hadaptive_net/hadaptive-net-{a}_1xb64-200e_cifar100.py':
       ('hadaptive_net', f'hadaptive-net-{a}_cifar100') for a in ('s', 'm', 'l')},
    'configs/hadaptive_net/mobilenet-v3-small_1xb64-200e_cifar100.py':
        ('hadaptive_net', 'mobilenetv3-small_cifar100'),
    'configs/hadaptive_net/mobilenet-v3-small-hadamard_1xb64-200e_cifar100.py':
        ('hadaptive_net', 'mobilenetv3-small-hadamard_cifar100'),
}
ALIASES = {'configs/emo/ssdlite_emo5m_coco.py'}  # names kept for commands users know


def kind_of(run_id: str) -> str:
    if run_id.endswith(('_ssdlite', '_retinanet', '_mask-rcnn')):
        return 'det'
    if run_id.endswith(('_deeplabv3', '_pspnet', '_fpn')):
        return 'seg'
    if run_id.startswith('emo-') and run_id.endswith('_in1k'):
        return 'cls_emo'
    if run_id.startswith('efficientmod-') and run_id.endswith('_in1k'):
        return 'cls_efficientmod'
    return 'cifar'


@functools.lru_cache(maxsize=None)
def _runs(family: str) -> dict:
    with open(osp.join(DATA, 'official_recipes', f'{family}.yaml')) as f:
        return yaml.safe_load(f)['runs']


def load_run(family: str, run_id: str) -> dict:
    """One official run; a field transcribed as 'same as RUN' is taken from RUN."""
    run = copy.deepcopy(_runs(family)[run_id])
    for key, value in run.items():
        if isinstance(value, str) and value.startswith('same as '):
            run[key] = load_run(family, value.split()[2])[key]
    return run


@functools.lru_cache(maxsize=None)
def _resolve(path: str) -> Config:
    return Config.fromfile(path)


def resolve(path: str) -> Config:
    """The resolved config (a copy: callers may change it)."""
    return copy.deepcopy(_resolve(path))


# ----------------------------------------------------------------------- helpers
def norm(v):
    """Lists and tuples compare equal; numbers compare as floats."""
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    return v


def assert_subset(official: dict, ours: dict, where: str, skip=()):
    """Every key of the official dict exists in ours with an equal value (recursively)."""
    for key, value in official.items():
        if key in skip:
            continue
        assert key in ours, f'{where}.{key}: official {value!r}, missing in ours'
        if isinstance(value, dict) and isinstance(ours[key], dict):
            assert_subset(value, ours[key], f'{where}.{key}', skip)
        else:
            assert norm(value) == norm(ours[key]), \
                f'{where}.{key}: official {value!r}, ours {ours[key]!r}'


def close(a, b, rel=1e-9):
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-15)


# ------------------------------------------------------------------ GPUs x batch
def check_batch(config, cfg, run):
    gpus, per_gpu = run['gpus'], run['batch_per_gpu']
    if config not in ALIASES:
        assert f'_{gpus}xb{per_gpu}' in osp.basename(config), \
            f'batch: the name must carry {gpus}xb{per_gpu} (official GPUs x batch per GPU)'
    assert cfg.train_dataloader.batch_size == per_gpu, \
        f'batch per GPU: official {per_gpu}, ours {cfg.train_dataloader.batch_size}'
    assert cfg.auto_scale_lr.base_batch_size == gpus * per_gpu, \
        (f'batch: auto_scale_lr.base_batch_size must be the official total '
         f'{gpus * per_gpu}, ours {cfg.auto_scale_lr.base_batch_size}')


# --------------------------------------------------------------------- optimizer
def official_optimizer(run) -> dict:
    opt = dict(run['optimizer'])
    if 'opt' in opt:  # timm argument names
        opt = dict(type=opt['opt'], lr=opt['lr'], weight_decay=opt['weight_decay'],
                   eps=opt.get('opt_eps'), betas=opt.get('opt_betas'))
    kind = opt['type'].split('.')[-1].lower()
    assert kind == 'adamw', opt
    return dict(type='AdamW', lr=opt['lr'], weight_decay=opt['weight_decay'],
                betas=tuple(opt.get('betas') or (0.9, 0.999)), eps=opt.get('eps') or 1e-8)


def check_optimizer(config, cfg, run):
    want = official_optimizer(run)
    got = cfg.optim_wrapper.optimizer
    assert got.type == want['type'], f'optimizer type: official {want["type"]}, ours {got.type}'
    assert close(got.lr, want['lr']), f'optimizer lr: official {want["lr"]}, ours {got.lr}'
    assert close(got.weight_decay, want['weight_decay']), \
        f'optimizer weight_decay: official {want["weight_decay"]}, ours {got.weight_decay}'
    assert tuple(got.get('betas', (0.9, 0.999))) == want['betas'], 'optimizer betas'
    assert close(got.get('eps', 1e-8), want['eps']), 'optimizer eps'


# ------------------------------------------------------------- no-decay scope
def our_no_decay(cfg, model) -> set:
    from mmengine.optim import build_optim_wrapper
    wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    name_of = {id(p): n for n, p in model.named_parameters()}
    return {name_of[id(p)] for g in wrapper.optimizer.param_groups for p in g['params']
            if p.requires_grad and g.get('weight_decay', 0) == 0}


@functools.lru_cache(maxsize=None)
def emo_official_names(arch: str) -> dict:
    """Our backbone parameter name -> the official one, through the converter."""
    from mmhad.utils.converters.emo import convert_emo
    with open(osp.join(DATA, 'emo_official.json')) as f:
        keys = json.load(f)['archs'][arch]['keys']
    ours = {}
    for key, shape in keys:
        for new in convert_emo({key: torch.zeros(shape)}):
            ours[new] = key
    return ours


def official_no_decay(cfg, model, run, kind) -> set:
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if kind in ('cls_emo', 'cls_efficientmod'):
        # timm / EMO add_weight_decay: 1-d parameters and biases
        return {n for n, p in params if p.ndim <= 1 or n.endswith('.bias')}
    if kind == 'cifar':
        return set()  # conductor: every parameter decays
    keys = [k for k, v in ((run.get('paramwise_cfg') or {}).get('custom_keys') or {}).items()
            if v.get('decay_mult', 1) == 0]
    if not keys:
        return set()
    backbone = cfg.model.backbone
    assert backbone.type == 'EMO', 'custom_keys are transcribed for EMO runs only'
    names = emo_official_names(backbone.arch)
    out = set()
    for n, _ in params:
        official = names[n] if n.startswith('backbone.') else n
        if any(k in official for k in keys):  # mmcv 1.x custom_keys: substring match
            out.add(n)
    return out


def check_no_decay(config, cfg, run):
    model = build_model(cfg)
    kind = kind_of_cfg(config)
    want, got = official_no_decay(cfg, model, run, kind), our_no_decay(cfg, model)
    assert want == got, (f'no weight decay: official-only {sorted(want - got)[:8]}, '
                         f'ours-only {sorted(got - want)[:8]}')


def kind_of_cfg(config):
    return kind_of(CONFIGS[config][1])


def check_grad_clip(config, cfg, run):
    clip = (run.get('optimizer_config') or {}).get('grad_clip')
    ours = cfg.optim_wrapper.get('clip_grad')
    if not clip:
        assert not ours, f'grad clip: official none, ours {ours}'
    else:
        assert ours and close(ours['max_norm'], clip['max_norm']) and \
            ours.get('norm_type', 2) == clip.get('norm_type', 2), \
            f'grad clip: official {clip}, ours {ours}'


# ----------------------------------------------------------- learning-rate curve
def simulate(cfg, iters_per_epoch: int, epochs: int = None, iters: int = None):
    """lr of every iteration, with our schedulers stepped as MMEngine's
    ParamSchedulerHook steps them (iteration-based after each iteration,
    epoch-based after each epoch)."""
    from mmengine.optim import OptimWrapper
    from mmengine.registry import PARAM_SCHEDULERS
    base = cfg.optim_wrapper.optimizer.lr
    opt = OptimWrapper(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base))
    scheds = []
    for s in copy.deepcopy(cfg.param_scheduler):
        s = dict(s)
        s.pop('_scope_', None)
        cls = PARAM_SCHEDULERS.get(s.pop('type'))
        if s.pop('convert_to_iter_based', False):
            scheds.append(cls.build_iter_from_epoch(opt, **s, epoch_length=iters_per_epoch))
        else:
            scheds.append(cls(opt, **s))
    lrs = []
    total = iters if iters is not None else epochs * iters_per_epoch
    for i in range(total):
        lrs.append(opt.param_groups[0]['lr'])
        for s in scheds:
            if not s.by_epoch:
                s.step()
        if iters is None and (i + 1) % iters_per_epoch == 0:
            for s in scheds:
                if s.by_epoch:
                    s.step()
    return lrs


def mmcv1_lr(run, i, iters_per_epoch):
    """lr at (0-based) iteration i under mmcv 1.x's LrUpdaterHook."""
    lr_cfg, base = run['lr_config'], run['optimizer']['lr']
    by_epoch = lr_cfg.get('by_epoch', True)
    runner = run['runner']
    if by_epoch:
        progress, max_progress = i // iters_per_epoch, runner['max_epochs']
    else:
        progress, max_progress = i, runner['max_iters']
    policy = lr_cfg['policy'].lower()
    if policy == 'cosineannealing':
        target = lr_cfg['min_lr'] if 'min_lr' in lr_cfg else base * lr_cfg['min_lr_ratio']
        regular = target + 0.5 * (base - target) * (1 + math.cos(math.pi * progress / max_progress))
    elif policy == 'step':
        regular = base * lr_cfg.get('gamma', 0.1) ** len(
            [s for s in lr_cfg['step'] if progress >= s])
    elif policy == 'poly':
        regular = (base - lr_cfg['min_lr']) * (1 - progress / max_progress) ** lr_cfg['power'] \
            + lr_cfg['min_lr']
    else:
        raise NotImplementedError(policy)
    if lr_cfg.get('warmup') == 'linear' and i < lr_cfg['warmup_iters']:
        k = (1 - i / lr_cfg['warmup_iters']) * (1 - lr_cfg['warmup_ratio'])
        return regular * (1 - k)
    assert lr_cfg.get('warmup') in (None, 'linear'), lr_cfg
    return regular


def timm_emo_lr(run, i, ipe):
    r = run['lr_config']['resolved']
    per_epoch = run['runner']['iters_per_epoch']
    warm, total = r['warmup_t'] / per_epoch * ipe, r['t_initial'] / per_epoch * ipe
    base = run['optimizer']['lr']
    if i < warm:
        return r['warmup_lr_init'] + i * (base - r['warmup_lr_init']) / warm
    return r['lr_min'] + 0.5 * (base - r['lr_min']) * (1 + math.cos(math.pi * i / total))


def timm_efficientmod_lr(run, i, ipe):
    r, base = run['lr_config'], run['optimizer']['lr']
    t = i // ipe  # t_in_epochs: stepped once per epoch
    if t < r['warmup_t']:
        return r['warmup_lr_init'] + t * (base - r['warmup_lr_init']) / r['warmup_t']
    if t >= r['t_initial']:
        return r['lr_min']  # timm's cool-down epochs
    return r['lr_min'] + 0.5 * (base - r['lr_min']) * (1 + math.cos(math.pi * t / r['t_initial']))


def conductor_lr(run, i, ipe):
    r, base = run['lr_config'], run['optimizer']['lr']
    e, warm = i // ipe, r['warmup_epochs']
    if e < warm:
        return (e + 1) / warm * base
    return r['min_lr'] + 0.5 * (base - r['min_lr']) * (1 + math.cos(math.pi * (e - warm) / 200))


IPE = 20  # iterations per epoch for simulated epoch-based schedules (shape-preserving)


def official_curve(run, kind, cfg):
    """(official lrs, ours, index where the warm-up ends)."""
    if kind in ('det', 'seg'):
        runner = run['runner']
        if 'max_iters' in runner:
            n = runner['max_iters']
            ours = simulate(cfg, 1, iters=n) if cfg.train_cfg.get('by_epoch', False) is False \
                else None
            want = [mmcv1_lr(run, i, 1) for i in range(n)]
        else:
            ipe = 100
            ours = simulate(cfg, ipe, epochs=runner['max_epochs'])
            want = [mmcv1_lr(run, i, ipe) for i in range(runner['max_epochs'] * ipe)]
        return want, ours, run['lr_config'].get('warmup_iters', 0)
    if kind == 'cls_emo':
        epochs = run['runner']['epochs']
        ours = simulate(cfg, IPE, epochs=epochs)
        return [timm_emo_lr(run, i, IPE) for i in range(epochs * IPE)], ours, \
            run['other']['warmup_epochs'] * IPE
    if kind == 'cls_efficientmod':
        epochs = run['runner']['epochs']
        ours = simulate(cfg, IPE, epochs=epochs)
        return [timm_efficientmod_lr(run, i, IPE) for i in range(epochs * IPE)], ours, \
            run['lr_config']['warmup_t'] * IPE
    epochs = run['runner']['max_epochs']
    ours = simulate(cfg, IPE, epochs=epochs)
    return [conductor_lr(run, i, IPE) for i in range(epochs * IPE)], ours, 0


def _compare_curve(want, ours, lo, hi, what):
    assert ours is not None and len(ours) >= hi, f'{what}: schedule length differs'
    worst = max(range(lo, hi), key=lambda i: abs(ours[i] - want[i]) / max(want[i], 1e-12))
    rel = abs(ours[worst] - want[worst]) / max(want[worst], 1e-12)
    assert rel < 1e-5, (f'{what}: lr at iteration {worst}: official {want[worst]:.6g}, '
                        f'ours {ours[worst]:.6g} (rel. diff {rel:.2g})')


@functools.lru_cache(maxsize=None)
def _curves(config: str, cfg_text: str):
    family, run_id = CONFIGS[config]
    return official_curve(load_run(family, run_id), kind_of(run_id), Config.fromstring(
        cfg_text, '.py'))


def curves(config, cfg):
    """(official, ours, warm-up end) for a config, simulated once per config content."""
    return _curves(config, cfg.pretty_text)


def check_schedule(config, cfg, run):
    """The whole lr curve (after the warm-up where a warm-up check exists)."""
    kind = kind_of_cfg(config)
    want, ours, warm = curves(config, cfg)
    lo = warm if kind in ('cls_emo', 'cls_efficientmod') else 0
    _compare_curve(want, ours, lo, len(want), 'lr schedule')
    if kind == 'cls_emo':
        noise = run['lr_config']['as_printed'].get('lr_noise')
        assert not noise, f'lr schedule: official per-iteration lr noise {noise}'
    if kind == 'cifar':  # the per-epoch values transcribed from the code's own scheduler
        for epoch, lr in run['lr_config']['lr_per_epoch'].items():
            assert math.isclose(ours[int(epoch) * IPE], lr, rel_tol=1e-5), \
                f'lr schedule: epoch {epoch}: official {lr}, ours {ours[int(epoch) * IPE]}'


def check_schedule_warmup(config, cfg, run):
    want, ours, warm = curves(config, cfg)
    _compare_curve(want, ours, 0, warm, 'lr warm-up')


def check_length(config, cfg, run):
    runner, kind = run['runner'], kind_of_cfg(config)
    if 'max_iters' in runner:
        assert cfg.train_cfg.max_iters == runner['max_iters'], 'length: max_iters'
    else:
        epochs = runner.get('max_epochs', runner.get('epochs'))
        assert cfg.train_cfg.max_epochs == epochs, \
            f'length: official {epochs} epochs, ours {cfg.train_cfg.max_epochs}'
    if kind == 'det':
        wrapper = run.get('dataset_wrapper')
        ds = cfg.train_dataloader.dataset
        if wrapper:
            assert ds.type == wrapper['type'] and ds.times == wrapper['times'], \
                f'length: dataset wrapper {wrapper}, ours {ds.type}'
        else:
            assert ds.type != 'RepeatDataset', 'length: ours repeats the dataset'
    if kind == 'cls_emo':  # official DataLoader drop_last=True (625 iterations / epoch)
        assert cfg.train_dataloader.get('drop_last') is True, 'length: drop_last'


# --------------------------------------------------------------- backbone settings
def check_backbone(config, cfg, run):
    kind, bb = kind_of_cfg(config), cfg.model.backbone
    official = run['backbone']
    if bb.type == 'EMO':
        dp = official.get('drop_path')
        assert close(bb.get('drop_path_rate', -1), dp), \
            f'backbone drop_path_rate: official {dp}, ours {bb.get("drop_path_rate")}'
        windows = official.get('window_sizes') or [7, 7, 7, 7]
        assert len(set(windows)) == 1 and bb.get('window_size', 7) == windows[0], \
            f'backbone window: official {windows}, ours {bb.get("window_size", 7)}'
        if kind in ('det', 'seg'):
            # official indices count the stem as stage 0
            assert list(bb.out_indices) == [i - 1 for i in official['out_indices']], \
                f'backbone out_indices: official {official["out_indices"]} (stem = 0)'
            assert bb.frozen_stages == official['frozen_stages'], 'backbone frozen_stages'
            assert bb.norm_eval == official['norm_eval'], 'backbone norm_eval'
    elif bb.type == 'EfficientMod':
        dp = (run.get('backbone_hardcoded') or {}).get('drop_path_rate', run.get('drop_path'))
        assert close(bb.get('drop_path_rate', 0.), dp), \
            f'backbone drop_path_rate: official {dp}, ours {bb.get("drop_path_rate", 0.)}'
        if kind in ('det', 'seg'):
            assert list(bb.out_indices) == list(official['out_indices']), 'out_indices'
            # the ResNet keys of the official base leak into **kwargs and are ignored:
            # nothing is frozen, no norm is held in eval mode
            assert bb.get('frozen_stages', -1) == -1 and not bb.get('norm_eval', False), \
                'backbone frozen_stages / norm_eval: official none (ignored kwargs)'
        else:
            assert close(bb.get('layer_scale_init_value'),
                         run['backbone'].get('layerscale_value', 1e-4)), 'layer scale'
    else:  # CIFAR runs: no stochastic depth in conductor
        assert not bb.get('drop_path_rate'), 'backbone drop path: official none'
        ach = run['other'].get('ach_head')
        if ach and bb.type != 'MobileNetV3':  # hard + sg(M) - M: the negated gradient
            assert 'NEGATED' in ach['ste']
            assert (bb.get('ach_cfg') or {}).get('ste') == 'public', \
                "backbone ACH straight-through sign: official -dM (ste='public')"


def check_sync_bn(config, cfg, run):
    kind = kind_of_cfg(config)
    if kind == 'det':  # mmdet 2 never converted neck / head BN (backbone BN is frozen)
        assert cfg.get('sync_bn') is None, \
            f'SyncBN scope: official per-GPU BN in neck/head, ours sync_bn={cfg.sync_bn!r}'
    elif kind == 'seg':  # SyncBN in the heads (and the EMO backbone)
        assert cfg.get('sync_bn') == 'torch', 'SyncBN scope: official SyncBN in the heads'
        assert 'SyncBN' in json.dumps(run['model_extra'].get('decode_head', {}))
    else:
        assert cfg.get('sync_bn') is None, 'SyncBN: the official run does not sync BN'


# ---------------------------------------------------------------- data pipelines
def check_img_norm(config, cfg, run):
    kind = kind_of_cfg(config)
    pre = cfg.model.data_preprocessor if kind in ('det', 'seg') else cfg.data_preprocessor
    norm_cfg = run['img_norm_cfg']
    if kind == 'cifar':
        norm_cfg = norm_cfg['train']
    mean, std = list(norm_cfg['mean']), list(norm_cfg['std'])
    if max(mean) <= 1:  # [0, 1] scale (ToTensor)
        mean, std = [m * 255 for m in mean], [s * 255 for s in std]
    assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(pre.mean, mean)), \
        f'normalisation mean: official {mean}, ours {pre.mean}'
    assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(pre.std, std)), \
        f'normalisation std: official {std}, ours {pre.std}'
    if kind in ('det', 'seg'):
        assert pre.bgr_to_rgb == norm_cfg['to_rgb'], 'normalisation to_rgb'
    elif kind != 'cifar':
        assert pre.get('to_rgb', False) is True, 'normalisation: RGB input'


def check_test_norm(config, cfg, run):
    test = run['img_norm_cfg']['test']
    mean = [m * 255 for m in test['mean']]
    assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in
               zip(cfg.data_preprocessor.mean, mean)), \
        f'test normalisation: official test-split mean {mean}, ours {cfg.data_preprocessor.mean}'


_DROP = {'Normalize', 'DefaultFormatBundle', 'Collect', 'ImageToTensor', 'PackDetInputs',
         'PackSegInputs'}


def translate_mm2(step: dict) -> dict:
    """One mmdet 2 / mmseg 0.x transform in mmdet 3 / mmseg 1 terms."""
    step = dict(step)
    kind = step.pop('type')
    if kind == 'Resize':
        scale = step.pop('img_scale', None)
        if 'ratio_range' in step:
            return dict(type='RandomResize', scale=scale, ratio_range=step['ratio_range'],
                        keep_ratio=True)
        return dict(type='Resize', scale=scale, **step)
    if kind == 'RandomFlip':
        if 'flip_ratio' in step:
            step['prob'] = step.pop('flip_ratio')
        return dict(type='RandomFlip', **step)
    return dict(type=kind, **step)


def official_train_pipeline(run):
    return [translate_mm2(s) for s in run['train_pipeline'] if s['type'] not in _DROP
            and s['type'] != 'Pad']


def official_test_pipeline(run):
    out = []
    for s in run['test_pipeline']:
        if s['type'] == 'MultiScaleFlipAug':
            assert not s.get('flip'), 'test-time flip is not transcribed'
            for t in s['transforms']:
                if t['type'] in _DROP or t['type'] in ('RandomFlip', 'Pad'):
                    continue
                t = dict(t)
                if t['type'] == 'AlignResize':
                    t.pop('keep_ratio')
                    out.append(dict(type='AlignResize', scale=s['img_scale'], **{
                        k: v for k, v in t.items() if k != 'type'}))
                else:
                    out.append(translate_mm2(dict(t, img_scale=s['img_scale'])))
        elif s['type'] not in _DROP:
            out.append(translate_mm2(s))
    return out


def _ours(pipeline, drop_annotations=False):
    out = []
    for s in pipeline:
        s = {k: v for k, v in dict(s).items() if not (k == 'backend_args' and v is None)}
        if s['type'] in _DROP or (drop_annotations and s['type'] == 'LoadAnnotations'):
            continue
        out.append(s)
    return out


def _train_dataset(cfg):
    ds = cfg.train_dataloader.dataset
    return ds.dataset if ds.type == 'RepeatDataset' else ds


def check_train_pipeline(config, cfg, run):
    kind = kind_of_cfg(config)
    if kind in ('det', 'seg'):
        want, got = official_train_pipeline(run), _ours(_train_dataset(cfg).pipeline)
        assert norm(want) == norm(got), f'train pipeline:\n official {want}\n ours     {got}'
        pads = [s for s in run['train_pipeline'] if s['type'] == 'Pad']
        pre = cfg.model.data_preprocessor
        for pad in pads:
            if 'size' in pad:  # mmseg: pad to the crop size after normalising
                assert norm(pre.size) == norm(pad['size']), 'train pipeline: Pad size'
                assert pre.pad_val == pad['pad_val'] and \
                    pre.seg_pad_val == pad['seg_pad_val'], 'train pipeline: Pad values'
            else:
                resize = [s for s in run['train_pipeline'] if s['type'] == 'Resize'][0]
                fixed = not resize.get('keep_ratio', True) and \
                    norm(resize['img_scale']) == norm([pad['size_divisor']] * 2)
                # Pad(size_divisor=S) after a fixed SxS resize pads nothing
                assert fixed or pre.pad_size_divisor == pad['size_divisor'], \
                    f'train pipeline: Pad size_divisor {pad["size_divisor"]}'
    elif kind == 'cifar':
        got = [s['type'] for s in cfg.train_dataloader.dataset.pipeline]
        want = [s['type'].split('.')[-1] for s in run['train_pipeline']]
        assert want == ['Resize', 'RandomCrop', 'RandomHorizontalFlip', 'ToTensor',
                        'Normalize'], want
        assert got == ['Resize', 'RandomCrop', 'RandomFlip', 'PackInputs'], \
            f'train pipeline order: official {want}, ours {got}'
        resize, crop, flip = cfg.train_dataloader.dataset.pipeline[:3]
        o_resize, o_crop = run['train_pipeline'][:2]
        assert norm(resize.scale) == norm(o_resize['size']), 'train pipeline: resize'
        assert crop.crop_size == o_crop['size'] and crop.padding == o_crop['padding'], \
            'train pipeline: RandomCrop'
        assert flip.prob == 0.5, 'train pipeline: flip'
    else:
        _check_timm_train(cfg, run, kind)


def _timm_augment(run, kind):
    if kind == 'cls_emo':
        printed = run['train_pipeline']['as_printed'][0]
        return dict(aa=printed['auto_augment'], re_prob=printed['re_prob'],
                    size=printed['input_size'], scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3))
    crop = run['train_pipeline'][0]
    return dict(aa=run['other']['aa'], re_prob=run['other']['reprob'], size=crop['size'],
                scale=tuple(crop['scale']), ratio=tuple(crop['ratio']))


def _check_timm_train(cfg, run, kind):
    want = _timm_augment(run, kind)
    pipeline = cfg.train_dataloader.dataset.pipeline
    types = [s['type'] for s in pipeline]
    order = ['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'RandAugment']
    order += ['RandomErasing'] if want['re_prob'] else []
    assert types == order + ['PackInputs'], f'train pipeline: {types}'
    rrc, flip, ra = pipeline[1], pipeline[2], pipeline[3]
    assert rrc.scale == want['size'] and norm(rrc.get('crop_ratio_range', (0.08, 1.0))) == \
        norm(want['scale']) and all(math.isclose(a, b) for a, b in zip(
            rrc.get('aspect_ratio_range', (3 / 4, 4 / 3)), want['ratio'])), \
        'train pipeline: RandomResizedCrop'
    assert flip.prob == 0.5, 'train pipeline: flip'
    m = re.fullmatch(r'rand-m(\d+)-mstd([\d.]+)-inc1', want['aa'])
    assert m, want['aa']
    assert ra.policies == 'timm_increasing' and ra.num_policies == 2 and \
        ra.magnitude_level == int(m.group(1)) and ra.total_level == 10 and \
        math.isclose(ra.magnitude_std, float(m.group(2))), 'train pipeline: RandAugment'
    if want['re_prob']:
        assert math.isclose(pipeline[4].erase_prob, want['re_prob']), 'random erasing'


def check_interpolation(config, cfg, run):
    """timm's 'random' interpolation (bilinear or bicubic per image) in RandomResizedCrop
    and RandAugment."""
    pipeline = cfg.train_dataloader.dataset.pipeline
    rrc = [s for s in pipeline if s['type'] == 'RandomResizedCrop'][0]
    assert rrc.get('interpolation') == 'random', \
        f"train interpolation: official 'random', ours {rrc.get('interpolation')!r}"


def check_random_erasing(config, cfg, run):
    """EfficientMod: timm erases on the GPU after mixup / cutmix and normalisation."""
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert 'RandomErasing' not in [s['type'] for s in pipeline], \
        'random erasing: official after mixup / cutmix on the normalised batch, ours ' \
        'per sample in the data pipeline before them'


def check_test_pipeline(config, cfg, run):
    kind = kind_of_cfg(config)
    pipeline = cfg.val_dataloader.dataset.pipeline
    if kind in ('det', 'seg'):
        want, got = official_test_pipeline(run), _ours(pipeline, drop_annotations=True)
        assert norm(want) == norm(got), f'test pipeline:\n official {want}\n ours     {got}'
        assert cfg.test_dataloader.dataset.pipeline == pipeline, 'test = val pipeline'
    elif kind == 'cifar':
        assert [s['type'] for s in pipeline] == ['Resize', 'PackInputs'], 'test pipeline'
        assert norm(pipeline[0].scale) == norm(run['test_pipeline'][0]['size'])
    else:
        resize = run['test_pipeline'][0]
        crop = [s for s in run['test_pipeline'] if s['type'] == 'CenterCrop'][0]
        ours = {s['type']: s for s in pipeline}
        assert ours['ResizeEdge'].scale == resize['size'] and \
            ours['ResizeEdge'].edge == 'short' and \
            ours['ResizeEdge'].interpolation == 'bicubic', 'test pipeline: resize'
        assert ours['CenterCrop'].crop_size == crop['size'], 'test pipeline: center crop'


# ------------------------------------------------------------------ model settings
_HEAD_RENAMES = {'SSDHead': 'SSDHeadWithPredict'}
# An official file that cannot be what ran: the released EfficientMod Semantic FPN configs
# swap the FPN in_channels of s and s_Conv (each would crash on its own backbone); the run
# behind each number used the other file's list, its backbone's real widths.
SWAPPED_NECK = {'efficientmod-s_fpn': 'efficientmod-s_conv_fpn',
                'efficientmod-s_conv_fpn': 'efficientmod-s_fpn'}


def check_model(config, cfg, run):
    extra = copy.deepcopy(run['model_extra'])
    family, run_id = CONFIGS[config]
    if run_id in SWAPPED_NECK:
        extra['neck']['in_channels'] = load_run(family, SWAPPED_NECK[run_id])[
            'model_extra']['neck']['in_channels']
    model = cfg.model.to_dict()
    for key, value in extra.items():
        if key in ('type', 'pretrained', 'backbone'):
            continue
        assert key in model, f'model.{key}: official {value}, missing in ours'
        if isinstance(value, dict):
            value = dict(value)
            if 'type' in value:
                want = _HEAD_RENAMES.get(value['type'], value['type'])
                assert model[key].get('type') == want, f'model.{key}.type'
            # SyncBN vs BN + sync_bn: checked by check_sync_bn
            assert_subset(value, model[key], f'model.{key}', skip=('type', 'norm_cfg'))


def check_evaluation(config, cfg, run):
    kind, ev = kind_of_cfg(config), run.get('evaluation') or {}
    if kind in ('det', 'seg'):
        interval = ev.get('interval', 1)
        assert cfg.train_cfg.val_interval == interval, \
            f'evaluation interval: official {interval}, ours {cfg.train_cfg.val_interval}'
        metrics = ev['metric'] if isinstance(ev['metric'], list) else [ev['metric']]
        ours = cfg.val_evaluator.get('metric', cfg.val_evaluator.get('iou_metrics'))
        ours = ours if isinstance(ours, list) else [ours]
        assert sorted(metrics) == sorted(ours), f'evaluation metric: {metrics} vs {ours}'
        ckpt = run['checkpoint_config']['interval']
        assert cfg.default_hooks.checkpoint.interval == ckpt, \
            f'checkpoint interval: official {ckpt}, ours {cfg.default_hooks.checkpoint.interval}'
    elif kind == 'cls_emo':  # every 5 epochs, every epoch from 200; best EMA epoch
        assert cfg.train_cfg.val_interval == ev['every_test_epoch']
        assert list(map(tuple, cfg.train_cfg.dynamic_intervals)) == \
            [(ev['start_test_epoch'], 1)], 'evaluation: every epoch from 200'
        assert cfg.default_hooks.checkpoint.get('save_best'), 'evaluation: best epoch kept'
    else:
        assert cfg.train_cfg.val_interval == ev.get('interval', 1), 'evaluation interval'
        assert cfg.default_hooks.checkpoint.get('save_best'), 'evaluation: best epoch kept'


def check_seed(config, cfg, run):
    seed = run.get('other', {}).get('seed')
    if isinstance(seed, str):
        seed = int(seed.split()[0]) if seed.split()[0].isdigit() else None
    if kind_of_cfg(config) == 'seg':
        seed = None  # the logs show a random seed drawn per run
    ours = cfg.get('randomness', {}).get('seed')
    assert ours == seed, f'seed: official {seed}, ours {ours}'


def check_ema(config, cfg, run):
    other = run['other']
    decay = other.get('ema') or other['model_ema']['decay']
    hooks = [h for h in cfg.get('custom_hooks', []) if h['type'] == 'EMAHook']
    assert hooks, 'EMA: official uses an EMA of the weights'
    assert math.isclose(1 - hooks[0]['momentum'], decay), 'EMA decay'
    # EMO's ModelEma and timm's ModelEmaV2 average the whole state_dict, BN buffers too
    assert hooks[0].get('update_buffers') is True, 'EMA of BN statistics'


def check_loss(config, cfg, run):
    kind, other = kind_of_cfg(config), run['other']
    head, train_cfg = cfg.model.head, cfg.model.get('train_cfg') or {}
    augments = {a['type']: a['alpha'] for a in train_cfg.get('augments', [])}
    if kind == 'cifar':
        assert head.loss.type == 'CrossEntropyLoss' and not head.loss.get('label_smooth_val')
        assert not augments, 'mixup / cutmix: official none'
        return
    assert head.loss.type == 'LabelSmoothLoss' and \
        math.isclose(head.loss.label_smooth_val, other['label_smoothing']), 'label smoothing'
    if kind == 'cls_emo':
        assert not augments, 'mixup / cutmix: official off (prob 0)'
    else:
        assert augments == {'Mixup': other['mixup'], 'CutMix': other['cutmix']}, \
            f'mixup / cutmix: official {other["mixup"]} / {other["cutmix"]}, ours {augments}'


def check_precision(config, cfg, run):
    assert cfg.optim_wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper', \
        'precision: official fp16 mixed precision'


def check_distillation(config, cfg, run):
    assert not run['other'].get('distillation'), \
        'distillation: official trains with a RegNetY-16GF teacher'


def check_init(config, cfg, run):
    """Weight init as the official code leaves it."""
    kind = kind_of_cfg(config)
    if kind == 'seg':
        assert 'init_weights' not in run['other'], \
            'init: the official script never calls init_weights()'
    else:
        assert 'xavier' not in run['other']['weight_init'], \
            'init: official xavier_normal_ on every Conv2d / Linear'


COMMON = dict(batch=check_batch, optimizer=check_optimizer, no_decay=check_no_decay,
              grad_clip=check_grad_clip, schedule=check_schedule, length=check_length,
              backbone=check_backbone, sync_bn=check_sync_bn, img_norm=check_img_norm,
              train_pipeline=check_train_pipeline, test_pipeline=check_test_pipeline,
              evaluation=check_evaluation, seed=check_seed)
CHECKS = {
    'det': dict(COMMON, model=check_model),
    'seg': dict(COMMON, model=check_model),
    'cls_emo': dict(COMMON, schedule_warmup=check_schedule_warmup, ema=check_ema,
                    loss=check_loss, precision=check_precision,
                    interpolation=check_interpolation),
    'cls_efficientmod': dict(COMMON, schedule_warmup=check_schedule_warmup, ema=check_ema,
                             loss=check_loss, precision=check_precision,
                             interpolation=check_interpolation,
                             random_erasing=check_random_erasing,
                             distillation=check_distillation),
    'cifar': dict(COMMON, loss=check_loss, init=check_init, test_norm=check_test_norm),
}
CHECKS['seg']['init'] = check_init
