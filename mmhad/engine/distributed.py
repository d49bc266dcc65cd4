"""Distributed training on CPU (``torch.distributed`` over gloo).

:func:`init_distributed` starts the process group before the data is prepared (so only
rank 0 writes generated data), with gloo when CUDA is absent -- MMEngine's pytorch
launcher calls ``torch.cuda.set_device`` and uses ``device_ids=[LOCAL_RANK]``, both of
which fail without a GPU; :func:`cpu_ddp_wrapper_cfg` switches to
:class:`CPUDistributedDataParallel` (no device ids, registered in MMEngine's root
``MODEL_WRAPPERS`` by ``import mmhad``), which implements ``sync_bn`` with
:class:`mmhad.engine.sync_bn.CPUSyncBatchNorm`-style layers.
"""
import datetime
import os

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

from .sync_bn import convert_cpu_sync_bn

__all__ = ['CPUDistributedDataParallel', 'init_distributed', 'cpu_ddp_wrapper_cfg']


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
    :class:`~mmhad.engine.sync_bn.CPUSyncBatchNorm`), so ``cfg.sync_bn`` is handed over
    to it.
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


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for CPU processes (gloo), with optional SyncBN.

    Args:
        module: the model.
        sync_bn (bool): convert its batch norms to
            :class:`~mmhad.engine.sync_bn.CPUSyncBatchNorm`-style layers first (what
            ``sync_bn='torch'`` does on GPU).
        **kwargs: ``MMDistributedDataParallel`` / ``DistributedDataParallel`` options.
    """

    def __init__(self, module, sync_bn: bool = False, **kwargs):
        if sync_bn:
            convert_cpu_sync_bn(module)
        kwargs.setdefault('device_ids', None)
        super().__init__(module=module, **kwargs)
