"""Faults a long training must survive, on tiny generated data on CPU.

* ``kill -9`` in the middle of training, then ``tools/train.py --resume``: the final
  weights equal those of an uninterrupted run bit for bit (deterministic mode; the
  random generator states travel in the checkpoints, mmhad.engine.hooks.rng_state_hook).
* Distributed: ``tools/dist_train.sh CONFIG 2`` runs 2-process DDP over gloo for a
  detector and a segmentor; BN becomes SyncBN under DDP and stays BN in one process;
  the CPU SyncBN matches BatchNorm over the whole batch (values, gradients, statistics).
* Mixed precision: bf16 autocast on CPU keeps losses and weights finite for 200
  iterations (SSDLite-EMO-1M, Hadaptive-Net-S with ACH / CrossHadaNorm / DySoft / BN),
  and ``tools/train.py --amp`` trains with ``CPUAutocastOptimWrapper``.
"""
import copy
import glob
import json
import math
import os
import os.path as osp
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import warnings

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DET = osp.join(REPO, 'configs/demo/ssdlite_emo1m_demo.py')
SEG = osp.join(REPO, 'configs/demo/deeplabv3_emo1m_demo.py')
LOADERS = ['train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
           'test_dataloader.num_workers=0', 'default_hooks.logger.interval=1']
DET_TINY = ['demo_data.num_train=4', 'demo_data.num_val=2', 'demo_data.size=64',
            'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=1'] + LOADERS


def env():
    """One thread per process; ``python`` (tools/dist_train.sh) = this interpreter."""
    return dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
                PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'])


def train_cmd(config, work, *args):
    return [sys.executable, osp.join(REPO, 'tools/train.py'), config, '--work-dir', work,
            *args]


def run(cmd, cwd, timeout=900, extra_env=None):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=dict(env(), **(extra_env or {})))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def losses(work_dir):
    values = []
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            values += [json.loads(line)['loss'] for line in f if '"loss"' in line]
    return values


def state_dict(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------- kill -9 + resume
@pytest.mark.slow
def test_kill9_then_resume_matches_uninterrupted_run(tmp_path):
    options = ['--cfg-options', 'demo_data.num_train=16', 'demo_data.num_val=2',
               'demo_data.size=64', 'train_dataloader.batch_size=2',
               'train_cfg.max_epochs=3', 'train_cfg.val_interval=100',
               'default_hooks.checkpoint.interval=1',
               'default_hooks.checkpoint.max_keep_ckpts=5', 'randomness.seed=0',
               'randomness.deterministic=True'] + LOADERS
    cwd = str(tmp_path)
    full_log = open(tmp_path / 'full.log', 'w')
    full = subprocess.Popen(train_cmd(DET, 'full', *options), cwd=cwd, env=env(),
                            stdout=full_log, stderr=subprocess.STDOUT)
    try:
        # let the first run write the demo data, then start the run to be killed
        deadline = time.time() + 600
        while not osp.isfile(tmp_path / 'data/demo/DONE'):
            assert full.poll() is None and time.time() < deadline, 'no demo data'
            time.sleep(0.2)
        killed_log = open(tmp_path / 'killed.log', 'w')
        victim = subprocess.Popen(train_cmd(DET, 'killed', *options), cwd=cwd, env=env(),
                                  stdout=killed_log, stderr=subprocess.STDOUT)
        # in epoch 2 (8 iterations per epoch): after epoch_1.pth and 2 more iterations
        while not re.search(r'Epoch\(train\) \[2\]\[2/8\]',
                            open(tmp_path / 'killed.log').read()):
            assert victim.poll() is None and time.time() < deadline, \
                open(tmp_path / 'killed.log').read()[-3000:]
            time.sleep(0.05)
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait() == -signal.SIGKILL
        assert osp.isfile(tmp_path / 'killed/epoch_1.pth')
        assert not osp.isfile(tmp_path / 'killed/epoch_3.pth')

        log = run(train_cmd(DET, 'killed', '--resume', *options), cwd)
        assert re.search(r'resumed epoch: [12], iter: (8|16)', log), log[-3000:]
        assert full.wait(timeout=900) == 0, open(tmp_path / 'full.log').read()[-3000:]
    finally:
        if full.poll() is None:
            full.kill()
    full_log.close()
    # single process: BN stays BN (no SyncBN without DDP)
    match = re.search(r'norm layers: (\d+) SyncBatchNorm, (\d+) BatchNorm \(world size 1\)',
                      open(tmp_path / 'full.log').read())
    assert match and match.group(1) == '0' and int(match.group(2)) > 0

    uninterrupted = state_dict(tmp_path / 'full/epoch_3.pth')
    resumed = state_dict(tmp_path / 'killed/epoch_3.pth')
    assert uninterrupted.keys() == resumed.keys()
    for key in uninterrupted:
        assert torch.equal(uninterrupted[key], resumed[key]), key


# --------------------------------------------------------------------- distributed
# A rank of a 2-process gloo run has been seen to abort in torch's C++ teardown
# (std::terminate, SIGABRT) after its work was done: two tests 5 s apart in one of four
# full runs of this suite on 2026-12-07 (torch 2.13, a 2-core VM), none in 20 reruns of
# them. That is torch's exit path, not what these tests check, so such a run is repeated
# once from scratch on a new port; any other failure, or the abort again, fails the test.
GLOO_EXIT_ABORT = 'terminate called without an active exception'


def run_two_processes(make_cmd, cwd, fresh=lambda: None):
    """``run(*make_cmd(port), ...)`` with a free port; once more after a gloo exit abort
    (``fresh()`` first removes what the aborted run wrote)."""
    for attempt in (1, 2):
        cmd, extra_env = make_cmd(free_port())
        try:
            return run(cmd, cwd, extra_env=extra_env)
        except AssertionError as err:
            if attempt == 2 or GLOO_EXIT_ABORT not in str(err):
                raise
            warnings.warn(f'a rank aborted in gloo teardown; running again: {cmd}')
            fresh()


def test_a_gloo_exit_abort_is_run_again_once(tmp_path):
    """The retry above: after the abort's message, once; never after another failure."""
    def script(fail_times, message):
        # fails (printing ``message``) on its first ``fail_times`` runs, then prints ok
        return [sys.executable, '-c', textwrap.dedent(f"""
            import os, sys
            n = len(os.listdir({str(tmp_path)!r}))
            open(os.path.join({str(tmp_path)!r}, str(n)), 'w').close()
            if n < {fail_times}:
                sys.exit({message!r})
            print('ok')""")]

    def attempts():
        count = len(os.listdir(tmp_path))
        for name in os.listdir(tmp_path):
            os.remove(tmp_path / name)
        return count

    fresh = []
    out = run_two_processes(lambda port: (script(1, GLOO_EXIT_ABORT), {}), str(tmp_path),
                            fresh=lambda: fresh.append(1))
    assert 'ok' in out and attempts() == 2 and fresh == [1]
    with pytest.raises(AssertionError, match=GLOO_EXIT_ABORT):  # the abort twice
        run_two_processes(lambda port: (script(2, GLOO_EXIT_ABORT), {}), str(tmp_path))
    assert attempts() == 2
    with pytest.raises(AssertionError, match='rank 1: mismatch'):  # not run again
        run_two_processes(lambda port: (script(1, 'rank 1: mismatch'), {}), str(tmp_path))
    assert attempts() == 1


def dist_train(config, work, cwd, *options):
    cmd = ['bash', osp.join(REPO, 'tools/dist_train.sh'), config, '2', '--work-dir', work,
           '--cfg-options', *options]
    return run_two_processes(lambda port: (cmd, dict(PORT=str(port))), cwd,
                             fresh=lambda: shutil.rmtree(work, ignore_errors=True))


def assert_ddp_sync_bn(log):
    assert "'backend': 'gloo'" in log, log[-3000:]
    match = re.search(r'norm layers: (\d+) SyncBatchNorm, (\d+) BatchNorm \(world size 2\)',
                      log)
    assert match, log[-3000:]
    assert int(match.group(1)) > 0 and match.group(2) == '0'


@pytest.mark.slow
def test_ddp_detector_two_processes(tmp_path):
    work = str(tmp_path / 'work')
    log = dist_train(DET, work, str(tmp_path), *DET_TINY, 'train_cfg.max_epochs=1',
                     'train_dataloader.batch_size=1')
    assert_ddp_sync_bn(log)
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    values = losses(work)
    assert len(values) == 2 and all(math.isfinite(v) for v in values)  # 4 images / 2 / 1


@pytest.mark.slow
def test_ddp_segmentor_two_processes(tmp_path):
    # the demo segmentation config at a 64x64 crop, to keep the run short
    small = tmp_path / 'deeplabv3_small.py'
    small.write_text(textwrap.dedent(f"""
        _base_ = {SEG!r}
        crop_size = (64, 64)
        model = dict(data_preprocessor=dict(size=crop_size))
        train_dataloader = dict(dataset=dict(pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', reduce_zero_label=True),
            dict(type='RandomResize', scale=(256, 64), ratio_range=(0.5, 2.0),
                 keep_ratio=True),
            dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackSegInputs')]))
        """))
    work = str(tmp_path / 'work')
    log = dist_train(str(small), work, str(tmp_path), 'demo_data.num_train=4',
                     'demo_data.num_val=2', 'demo_data.size=64',
                     'train_dataloader.batch_size=2', 'train_cfg.max_iters=3',
                     'train_cfg.val_interval=3', 'default_hooks.checkpoint.interval=3',
                     *LOADERS)
    assert_ddp_sync_bn(log)
    assert osp.isfile(osp.join(work, 'iter_3.pth'))
    assert re.search(r'mIoU: [\d.]+', log), log[-3000:]  # validation ran distributed
    values = losses(work)
    assert len(values) == 3 and all(math.isfinite(v) for v in values)


CPU_SYNC_BN_CHECK = '''
import copy
import torch, torch.distributed as dist
from torch import nn
from mmhad.engine.sync_bn import convert_cpu_sync_bn
dist.init_process_group('gloo')
rank = dist.get_rank()
torch.manual_seed(0)
x = torch.randn(8, 6, 5, 5) * 3 + 1
w = torch.randn(8, 6, 5, 5)
ref = nn.BatchNorm2d(6)
with torch.no_grad():
    ref.weight.uniform_(0.5, 1.5); ref.bias.uniform_(-0.5, 0.5)
sync = nn.Sequential(nn.Identity(), copy.deepcopy(ref))
assert convert_cpu_sync_bn(sync) == 1 and isinstance(sync[1], nn.BatchNorm2d)
xr = x.clone().requires_grad_(True)
(ref(xr) * w).sum().backward()
xs = x[4 * rank:4 * rank + 4].clone().requires_grad_(True)
ys = sync(xs)
(ys * w[4 * rank:4 * rank + 4]).sum().backward()
with torch.no_grad():
    whole = nn.functional.batch_norm(x, None, None, ref.weight, ref.bias, True)
    torch.testing.assert_close(ys, whole[4 * rank:4 * rank + 4])
torch.testing.assert_close(xs.grad, xr.grad[4 * rank:4 * rank + 4])
gw, gb = sync[1].weight.grad.clone(), sync[1].bias.grad.clone()
dist.all_reduce(gw); dist.all_reduce(gb)
torch.testing.assert_close(gw, ref.weight.grad)
torch.testing.assert_close(gb, ref.bias.grad)
torch.testing.assert_close(sync[1].running_mean, ref.running_mean)
torch.testing.assert_close(sync[1].running_var, ref.running_var)
sync.eval(); ref.eval()
torch.testing.assert_close(sync(x), ref(x))
print(f'rank {rank}: CPU SyncBN matches whole-batch BN', flush=True)
dist.barrier()  # no rank tears gloo down while the other still talks to it
dist.destroy_process_group()
'''


def run_on_two_gloo_processes(tmp_path, script_text: str, marker: str):
    """Run a script under ``torch.distributed.run`` with 2 CPU processes; each must print
    ``marker``."""
    script = tmp_path / 'check.py'
    script.write_text(script_text)
    out = run_two_processes(
        lambda port: ([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
                       f'--master_port={port}', str(script)], dict(PYTHONPATH=REPO)),
        str(tmp_path))
    assert out.count(marker) == 2, out[-3000:]


@pytest.mark.slow
def test_cpu_sync_bn_matches_whole_batch_bn(tmp_path):
    run_on_two_gloo_processes(tmp_path, CPU_SYNC_BN_CHECK,
                              'CPU SyncBN matches whole-batch BN')


ACH_DDP_TAU_CHECK = '''
import torch, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from mmhad.models.layers.ach import ACH
dist.init_process_group('gloo')
rank = dist.get_rank()
torch.manual_seed(0)
model = DDP(ACH(16, 5, 'BN'))
layer = model.module
for step in range(5):
    x = torch.randn(4, 16, 6, 6, generator=torch.Generator().manual_seed(10 * step + rank))
    model(x * (1 + rank)).square().mean().backward()  # different data on each rank
    synced = layer.eva_net.conv.weight.grad.clone()    # DDP's averaged gradient
    model.zero_grad(set_to_none=True)
model(torch.randn(4, 16, 6, 6))                          # reads the last record
state = torch.stack([layer.tau.detach(), layer.tau_adj.detach()])
states = [torch.zeros(2) for _ in range(2)]
dist.all_gather(states, state)
assert torch.equal(states[0], states[1]), states        # one temperature on all ranks
torch.testing.assert_close(layer.tau_adj.detach(), synced.norm())
assert float(layer.tau) != 4.0 or step == 0
print(f'rank {rank}: ACH temperature synchronised', flush=True)
dist.barrier()
dist.destroy_process_group()
'''


@pytest.mark.slow
def test_ach_temperature_reads_the_synchronised_gradient_under_ddp(tmp_path):
    """The public code adapts tau from ``.grad`` after DDP's all-reduce; ours records the
    gradient in a hook (MMEngine zeroes ``.grad`` before the next forward), so it averages
    the record across processes: every rank keeps the same tau, set from the averaged
    gradient, although each rank sees different data."""
    run_on_two_gloo_processes(tmp_path, ACH_DDP_TAU_CHECK, 'ACH temperature synchronised')


# --------------------------------------------------------------------- mixed precision
def _det_batch(gen, n=2, size=64):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    inputs, samples = [], []
    for _ in range(n):
        inputs.append(torch.randint(0, 256, (3, size, size), dtype=torch.uint8,
                                    generator=gen))
        xy = torch.rand(3, 2, generator=gen) * size * 0.6
        wh = 8 + torch.rand(3, 2, generator=gen) * size * 0.3
        sample = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                             pad_shape=(size, size), scale_factor=(1., 1.)))
        sample.gt_instances = InstanceData(
            bboxes=torch.cat([xy, (xy + wh).clamp(max=size)], 1),
            labels=torch.randint(0, 4, (3, ), generator=gen))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _cls_batch(gen, n=4, size=64, num_classes=10):
    from mmpretrain.structures import DataSample
    inputs = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=gen)
              for _ in range(n)]
    samples = [DataSample().set_gt_label(int(torch.randint(0, num_classes, (1, ),
                                                           generator=gen)))
               for _ in range(n)]
    return dict(inputs=inputs, data_samples=samples)


def _bf16_loop(model, batch, lr, iters=150):
    """``train_step`` on ONE fixed batch under CPUAutocastOptimWrapper; returns the losses
    (all finite). A fixed batch makes "the loss falls" a property of any correct
    implementation (memorisation), not of one machine's trajectory over random labels."""
    from mmhad.engine.amp import CPUAutocastOptimWrapper
    torch.manual_seed(0)
    model.train()
    wrapper = CPUAutocastOptimWrapper(optimizer=torch.optim.AdamW(model.parameters(), lr=lr))
    dtypes = set()
    conv = next(m for m in model.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    handle = conv.register_forward_hook(lambda m, i, o: dtypes.add(o.dtype))
    values = []
    for i in range(iters):
        log = model.train_step(batch, wrapper)
        values.append(float(log['loss'].detach()))
        assert math.isfinite(values[-1]), (i, {k: float(v) for k, v in log.items()})
    handle.remove()
    assert dtypes == {torch.bfloat16}, dtypes  # the convs really ran in bf16
    for name, param in model.named_parameters():
        assert torch.isfinite(param).all(), name
    for name, buf in model.named_buffers():
        if buf.is_floating_point():
            assert torch.isfinite(buf).all(), name
    return values


def assert_memorised(values, factor=0.5):
    """The mean loss of the last 10 steps on the fixed batch is below ``factor`` x that of
    the first 10: a wide margin, so rounding differences between CPUs cannot flip it."""
    first, last = sum(values[:10]) / 10, sum(values[-10:]) / 10
    assert last < factor * first, (first, last)


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_bf16_autocast_ssdlite_emo1m(one_thread):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import mmhad  # noqa: F401
    cfg = Config.fromfile(DET)
    with DefaultScope.overwrite_default_scope('mmdet'):
        from mmdet.registry import MODELS
        model = MODELS.build(cfg.model)
        values = _bf16_loop(model, _det_batch(torch.Generator().manual_seed(0)), lr=3e-3)
    assert_memorised(values)  # and it learns


@pytest.mark.slow
def test_bf16_autocast_hadaptive_net_s_with_ach(one_thread):
    """Hadaptive-Net-S classifier whose stage-3 ACH layers use CrossHadaNorm, DySoft and
    BN for the products (the public S uses DySoft throughout)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmhad.models.backbones.hadaptive_net import ARCH_SETTINGS
    from mmhad.models.layers.ach import ACH, CrossHadaNorm, DySoft
    arch = copy.deepcopy(ARCH_SETTINGS['s'])
    norms = iter(['CrossHadaNorm', 'DySoft', 'CrossHadaNorm', 'BN'])
    arch['layers'][2] = [tuple(s[:5]) + (next(norms), ) if s[0] == 'hada' else s
                         for s in arch['layers'][2]]
    cfg = Config.fromfile(osp.join(REPO, 'configs/hadaptive_net/'
                                         'hadaptive-net-s_1xb64-200e_cifar100.py'))
    cfg.model.backbone.arch = arch
    cfg.model.head.num_classes, cfg.model.head.topk = 10, (1, )
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        from mmpretrain.registry import MODELS
        model = MODELS.build(cfg.model)
        achs = [m for m in model.modules() if isinstance(m, ACH)]
        kinds = {type(m.norm).__name__ for m in achs}
        assert {'CrossHadaNorm', 'DySoft', 'BatchNorm2d'} <= kinds, kinds
        assert any(isinstance(m.norm, CrossHadaNorm) for m in achs)
        assert any(isinstance(m.norm, DySoft) for m in achs)
        values = _bf16_loop(model, _cls_batch(torch.Generator().manual_seed(0)), lr=1e-3)
    assert_memorised(values)
    for m in achs:
        assert torch.isfinite(m.tau) and m.tau_min <= float(m.tau) <= m.tau_max


@pytest.mark.slow
def test_cli_amp_on_cpu(tmp_path):
    work = str(tmp_path / 'work')
    log = run(train_cmd(DET, work, '--amp', '--cfg-options', *DET_TINY,
                        'demo_data.num_train=8', 'train_dataloader.batch_size=2',
                        'train_cfg.max_epochs=1'), str(tmp_path))
    assert "type='CPUAutocastOptimWrapper'" in log, log[-3000:]
    values = losses(work)
    assert len(values) == 4 and all(math.isfinite(v) for v in values), values
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))


# --------------------------------------------------------------------- unit level
def test_cpu_launch_config(monkeypatch):
    """Without CUDA a distributed launch gets gloo, no device ids, and the CPU SyncBN
    wrapper; a single-process config is left alone."""
    from mmengine.config import Config

    from mmhad.engine import distributed
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = Config(dict(launcher='pytorch', sync_bn='torch',
                      env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    distributed.cpu_ddp_wrapper_cfg(cfg)
    assert cfg.model_wrapper_cfg == dict(
        type='CPUDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=False, device_ids=None, sync_bn=True)
    assert cfg.sync_bn is None  # the wrapper converts; torch's SyncBN refuses CPU
    monkeypatch.setattr(distributed.dist, 'is_initialized', lambda: False)
    calls = []
    monkeypatch.setattr(distributed.dist, 'init_process_group',
                        lambda **kw: calls.append(kw))
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '2')
    assert distributed.init_distributed(cfg)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo' and calls[0]['backend'] == 'gloo'

    single = Config(dict(launcher='none', sync_bn='torch'))
    assert not distributed.init_distributed(single)
    distributed.cpu_ddp_wrapper_cfg(single)
    assert 'model_wrapper_cfg' not in single and single.sync_bn == 'torch'


def test_num_workers_zero_disables_persistent_workers(tmp_path, monkeypatch):
    """--cfg-options ...num_workers=0 on a config with persistent workers must work."""
    import argparse
    monkeypatch.syspath_prepend(REPO)
    # load_config sets LOCAL_RANK, as tools/train.py does; restore it for later tests
    monkeypatch.setenv('LOCAL_RANK', os.environ.get('LOCAL_RANK', '0'))
    from tools.common import load_config
    args = argparse.Namespace(config=DET, cfg_options={
        'train_dataloader.num_workers': 0, 'demo_data': None,
        'train_dataloader.dataset.dataset.data_root': str(tmp_path),
        'train_dataloader.dataset.dataset.ann_file': str(tmp_path),
        'train_dataloader.dataset.dataset.data_prefix.img': str(tmp_path)},
        launcher='none', work_dir=str(tmp_path), local_rank=0)
    cfg = load_config(args, loaders=('train_dataloader', ))
    assert cfg.train_dataloader.persistent_workers is False
    assert cfg.val_dataloader.persistent_workers is True  # untouched: workers > 0


def test_rng_state_hook_round_trip():
    import random

    import numpy as np

    from mmhad.engine.hooks import RNGStateHook

    class Runner:
        _resume = True
        logger = None

    hook, checkpoint = RNGStateHook(), {}
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    hook.before_save_checkpoint(Runner, checkpoint)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(2), np.random.seed(2), random.seed(2)
    hook.after_load_checkpoint(Runner, checkpoint)
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expected[0]) and (got[1] == expected[1]).all() \
        and got[2] == expected[2]
    Runner._resume = False  # load_from (fine-tuning) keeps the new run's seed
    torch.manual_seed(2)
    hook.after_load_checkpoint(Runner, checkpoint)
    assert not torch.equal(torch.rand(3), expected[0])
