"""What long, multi-machine trainings need beyond MMEngine 0.10's defaults.

* :class:`RNGStateHook`: resuming reproduces the uninterrupted run. MMEngine re-seeds a
  resumed run from the config's seed, so the random streams of the data pipeline (flips,
  crops) and of the model (drop path, Gumbel noise) restart from the beginning instead of
  continuing; the resumed weights then differ from those of a run that was never stopped.
  The hook stores the Python / NumPy / torch generator states in every checkpoint and
  puts them back on ``resume`` (not on a plain ``load_from``).
* Distributed training on CPU (``torch.distributed`` over gloo):
  :func:`init_distributed` starts the process group before the data is prepared (so only
  rank 0 writes generated data), with gloo when CUDA is absent -- MMEngine's pytorch
  launcher calls ``torch.cuda.set_device`` and uses ``device_ids=[LOCAL_RANK]``, both of
  which fail without a GPU; :func:`cpu_ddp_wrapper_cfg` switches to
  :class:`CPUDistributedDataParallel` (no device ids), which implements ``sync_bn`` with
  :class:`CPUSyncBatchNorm`-style layers: torch's DDP refuses ``torch.nn.SyncBatchNorm``
  in CPU modules, and its kernels are CUDA-only.
"""
import datetime
import os
import random

import numpy as np
import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS
from torch import nn

__all__ = ['RNGStateHook', 'CPUSyncBatchNorm', 'CPUDistributedDataParallel',
           'init_distributed', 'cpu_ddp_wrapper_cfg', 'convert_cpu_sync_bn',
           'count_norm_layers']

RNG_KEY = 'rng_state'


def get_rng_state() -> dict:
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available() \
            and len(state['cuda']) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state['cuda'])


class RNGStateHook(Hook):
    """Save the global random generators' states with each checkpoint; restore on resume.

    In distributed runs every rank has its own streams; each rank restores the state
    rank 0 saved, which is what a run whose ranks were seeded alike has anyway.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[RNG_KEY] = get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):  # load_from: a new run, keep its seed
            return
        state = checkpoint.get(RNG_KEY)
        if state is None:
            runner.logger.warning(
                'The resumed checkpoint has no random generator states (saved without '
                'RNGStateHook): the resumed run continues with freshly seeded streams and '
                'will not reproduce an uninterrupted run exactly.')
            return
        set_rng_state(state)


# --------------------------------------------------------------------------- CPU DDP
def _distributed_cpu(cfg) -> bool:
    return cfg.get('launcher', 'none') != 'none' and not torch.cuda.is_available()


def init_distributed(cfg) -> bool:
    """Start torch.distributed for ``cfg.launcher`` now; return True when distributed.

    Without CUDA, the backend becomes gloo (``cfg.env_cfg.dist_cfg.backend``) and the
    pytorch launcher's process group is started here without MMEngine's CUDA calls; with
    CUDA this is MMEngine's own ``init_dist``. The Runner then finds the group started.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none':
        return False
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    if dist.is_initialized():
        return True
    if torch.cuda.is_available():
        from mmengine.dist import init_dist
        init_dist(launcher, **dist_cfg)
        return True
    dist_cfg['backend'] = 'gloo'
    env_cfg['dist_cfg'] = dist_cfg
    if launcher != 'pytorch':
        raise RuntimeError(f'--launcher {launcher} on a machine without CUDA is not '
                           'supported; use --launcher pytorch (tools/dist_train.sh).')
    kwargs = {k: v for k, v in dist_cfg.items() if k != 'backend'}
    if kwargs.get('timeout') is not None:
        kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
    dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                            world_size=int(os.environ['WORLD_SIZE']), **kwargs)
    return True


def cpu_ddp_wrapper_cfg(cfg) -> None:
    """Wrap in :class:`CPUDistributedDataParallel` when distributed without CUDA.

    torch's DDP refuses CPU modules with ``device_ids`` (MMEngine passes
    ``[LOCAL_RANK]``) and any ``torch.nn.SyncBatchNorm`` on CPU; the wrapper is built
    with ``device_ids=None`` and does the ``sync_bn`` conversion itself (with
    :class:`CPUSyncBatchNorm`), so ``cfg.sync_bn`` is handed over to it.
    """
    if not _distributed_cpu(cfg):
        return
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    if wrapper.get('type', 'MMDistributedDataParallel') != 'MMDistributedDataParallel':
        return  # a custom wrapper: the user's choice
    wrapper['type'] = 'CPUDistributedDataParallel'
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    wrapper['sync_bn'] = cfg.get('sync_bn') is not None
    cfg.sync_bn = None
    cfg.model_wrapper_cfg = wrapper


class _CPUSyncBatchNormMixin:
    """Batch statistics over all processes for CPU tensors (e.g. DDP over gloo).

    Per channel, the sums of ``x`` and ``x**2`` and the element count are all-reduced
    (differentiably, so gradients flow through the global statistics as with
    ``torch.nn.SyncBatchNorm``), giving the global batch mean and biased variance;
    running statistics use the unbiased variance. Eval mode, non-CPU tensors and
    single-process runs use plain batch norm.
    """

    process_group = None

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f'expected at least 2D input (got {x.dim()}D input)')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        group = self.process_group or (dist.group.WORLD if dist.is_initialized() else None)
        if not (self.training and x.device.type == 'cpu' and group is not None
                and dist.get_world_size(group) > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce
        self._check_input_dim(x)
        c = x.shape[1]
        dims = [0] + list(range(2, x.dim()))
        xf = x.float()
        stats = torch.cat([xf.sum(dims), (xf * xf).sum(dims),
                           xf.new_full((1, ), float(x.numel() // c))])
        stats = all_reduce(stats, group=group)
        total = stats[-1]
        mean = stats[:c] / total
        var = (stats[c:2 * c] / total - mean * mean).clamp_min(0)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (1.0 / float(self.num_batches_tracked)
                            if self.momentum is None else self.momentum)
                unbiased = var * (total / (total - 1).clamp_min(1))
                self.running_mean.mul_(1 - momentum).add_(momentum * mean.detach())
                self.running_var.mul_(1 - momentum).add_(momentum * unbiased.detach())
        shape = (1, c) + (1, ) * (x.dim() - 2)
        y = (xf - mean.view(shape)) * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


class CPUSyncBatchNorm(_CPUSyncBatchNormMixin, nn.modules.batchnorm._BatchNorm):
    """Stand-in for ``torch.nn.SyncBatchNorm`` layers on CPU (any input rank >= 2)."""


_CPU_SYNC_CLASSES = {}


def _cpu_sync_class(cls):
    if cls is nn.SyncBatchNorm:
        return CPUSyncBatchNorm
    if cls not in _CPU_SYNC_CLASSES:  # keeps isinstance(m, BatchNorm2d) etc. true
        _CPU_SYNC_CLASSES[cls] = type(f'CPUSync{cls.__name__}',
                                      (_CPUSyncBatchNormMixin, cls), {})
    return _CPU_SYNC_CLASSES[cls]


def is_cpu_sync_bn(module) -> bool:
    return isinstance(module, _CPUSyncBatchNormMixin)


def convert_cpu_sync_bn(model: nn.Module, process_group=None) -> int:
    """Make every batch norm of ``model`` synchronise across processes on CPU, in place
    (same parameters, buffers and state-dict keys); return how many were converted."""
    n = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) \
                and not is_cpu_sync_bn(module):
            module.__class__ = _cpu_sync_class(type(module))
            module.process_group = process_group
            n += 1
    return n


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for CPU processes (gloo), with optional SyncBN.

    Args:
        module: the model.
        sync_bn (bool): convert its batch norms to :class:`CPUSyncBatchNorm`-style
            layers first (what ``sync_bn='torch'`` does on GPU).
        **kwargs: ``MMDistributedDataParallel`` / ``DistributedDataParallel`` options.
    """

    def __init__(self, module, sync_bn: bool = False, **kwargs):
        if sync_bn:
            convert_cpu_sync_bn(module)
        kwargs.setdefault('device_ids', None)
        super().__init__(module=module, **kwargs)


def count_norm_layers(model: nn.Module) -> dict:
    """``{'SyncBatchNorm': n, 'BatchNorm': m}``: synchronised (torch SyncBN or the CPU
    version) vs. per-process batch norms."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    sync = sum(isinstance(m, nn.SyncBatchNorm) or is_cpu_sync_bn(m) for m in bns)
    return {'SyncBatchNorm': sync, 'BatchNorm': len(bns) - sync}
