"""``custom_imports=dict(imports=['mmhad'])`` alone registers mmhad's engine parts.

Run in a fresh interpreter: in the test process other tests (and ``tools/common.py``)
may already have imported mmhad, which would hide a module that only ``tools`` imports.
"""
import os.path as osp
import subprocess
import sys
import textwrap

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

SCRIPT = textwrap.dedent('''
    import sys

    import torch
    import torch.distributed as dist
    from mmengine.config import Config
    from mmengine.registry import HOOKS, MODEL_WRAPPERS, OPTIM_WRAPPERS

    assert 'mmhad' not in sys.modules
    assert MODEL_WRAPPERS.get('CPUDistributedDataParallel') is None
    assert HOOKS.get('RNGStateHook') is None
    assert HOOKS.get('KeepOptimizerOptionsHook') is None

    cfg_file, store = sys.argv[1], sys.argv[2]
    with open(cfg_file, 'w') as f:
        f.write("custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)\\n"
                "model_wrapper_cfg = dict(type='CPUDistributedDataParallel', "
                "sync_bn=True, broadcast_buffers=False)\\n"
                "custom_hooks = [dict(type='RNGStateHook')]\\n")
    cfg = Config.fromfile(cfg_file)  # imports custom_imports, as the Runner's does
    assert 'mmhad' in sys.modules
    assert not any(m == 'tools' or m.startswith('tools.') for m in sys.modules), \\
        sorted(m for m in sys.modules if m.startswith('tools'))

    from mmhad.engine import (CPUAutocastOptimWrapper, CPUDistributedDataParallel,
                              RNGStateHook, count_norm_layers)
    assert MODEL_WRAPPERS.get('CPUDistributedDataParallel') is CPUDistributedDataParallel
    assert OPTIM_WRAPPERS.get('CPUAutocastOptimWrapper') is CPUAutocastOptimWrapper
    hook = HOOKS.build(cfg.custom_hooks[0])
    assert type(hook) is RNGStateHook and hook.priority == 'VERY_LOW'
    from mmhad.engine import KeepOptimizerOptionsHook
    assert HOOKS.get('KeepOptimizerOptionsHook') is KeepOptimizerOptionsHook

    # a real build: one gloo process, the wrapper converts BN to the CPU SyncBN
    dist.init_process_group('gloo', init_method='file://' + store, rank=0,
                            world_size=1)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    wrapped = MODEL_WRAPPERS.build(cfg.model_wrapper_cfg, default_args=dict(module=model))
    assert type(wrapped) is CPUDistributedDataParallel
    assert count_norm_layers(wrapped.module) == {'SyncBatchNorm': 1, 'BatchNorm': 0}
    assert wrapped(torch.rand(2, 3, 8, 8)).shape == (2, 4, 6, 6)
    dist.destroy_process_group()
    print('registered by custom_imports')
''')


def test_custom_imports_register_hook_and_model_wrapper(tmp_path):
    script = tmp_path / 'check.py'
    script.write_text(SCRIPT)
    env = dict(__import__('os').environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    out = subprocess.run(
        [sys.executable, '-W', 'ignore', str(script), str(tmp_path / 'cfg.py'),
         str(tmp_path / 'store')], cwd=str(tmp_path), env=env, capture_output=True,
        text=True, timeout=600)
    assert out.returncode == 0 and 'registered by custom_imports' in out.stdout, \
        (out.stdout + out.stderr)[-4000:]
