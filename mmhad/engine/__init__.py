"""Training machinery beyond MMEngine 0.10's defaults, one module per concept.

``import mmhad`` imports all of them, registering into MMEngine's root registries:

* :mod:`.amp`: ``CPUAutocastOptimWrapper`` (``OPTIM_WRAPPERS``) and ``enable_amp``.
* :mod:`.hooks.rng_state_hook`: ``RNGStateHook`` (``HOOKS``), random generator states
  in checkpoints so a resumed run reproduces an uninterrupted one.
* :mod:`.hooks.optimizer_options_hook`: ``KeepOptimizerOptionsHook`` (``HOOKS``), a
  resumed run keeps the configured optimizer implementation (``fused``).
* :mod:`.hooks.deploy_hook`: ``SwitchToDeployHook`` (``HOOKS``), test the deploy form.
* :mod:`.distributed`: ``init_distributed`` / ``cpu_ddp_wrapper_cfg`` and
  ``CPUDistributedDataParallel`` (``MODEL_WRAPPERS``), DDP over gloo without CUDA.
* :mod:`.sync_bn`: ``CPUSyncBatchNorm`` and ``convert_cpu_sync_bn`` /
  ``count_norm_layers``, SyncBN for CPU processes.
"""
from .amp import CPUAutocastOptimWrapper, enable_amp
from .distributed import CPUDistributedDataParallel, cpu_ddp_wrapper_cfg, init_distributed
from .hooks import (KeepOptimizerOptionsHook, RNGStateHook, SwitchToDeployHook,
                    get_rng_state, set_rng_state)
from .sync_bn import (CPUSyncBatchNorm, convert_cpu_sync_bn, count_norm_layers,
                      is_cpu_sync_bn)

__all__ = ['CPUAutocastOptimWrapper', 'enable_amp', 'CPUDistributedDataParallel',
           'cpu_ddp_wrapper_cfg', 'init_distributed', 'KeepOptimizerOptionsHook',
           'RNGStateHook', 'SwitchToDeployHook', 'get_rng_state',
           'set_rng_state', 'CPUSyncBatchNorm', 'convert_cpu_sync_bn', 'count_norm_layers',
           'is_cpu_sync_bn']
