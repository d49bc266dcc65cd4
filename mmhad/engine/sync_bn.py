"""Synchronised batch norm for CPU processes (``torch.distributed`` over gloo).

torch's DDP refuses ``torch.nn.SyncBatchNorm`` in CPU modules, and its kernels are
CUDA-only. :func:`convert_cpu_sync_bn` turns a model's batch norms, in place, into
:class:`CPUSyncBatchNorm`-style layers that all-reduce the batch statistics;
:class:`mmhad.engine.distributed.CPUDistributedDataParallel` calls it for ``sync_bn``.
"""
import torch
import torch.distributed as dist
from torch import nn

__all__ = ['CPUSyncBatchNorm', 'convert_cpu_sync_bn', 'is_cpu_sync_bn',
           'count_norm_layers']


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


def count_norm_layers(model: nn.Module) -> dict:
    """``{'SyncBatchNorm': n, 'BatchNorm': m}``: synchronised (torch SyncBN or the CPU
    version) vs. per-process batch norms."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    sync = sum(isinstance(m, nn.SyncBatchNorm) or is_cpu_sync_bn(m) for m in bns)
    return {'SyncBatchNorm': sync, 'BatchNorm': len(bns) - sync}
