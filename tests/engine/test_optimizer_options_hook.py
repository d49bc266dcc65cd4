"""Resuming a checkpoint saved with another AdamW implementation (``fused=False``) keeps
the config's (``fused=True``), and the optimizer state still comes from the checkpoint."""
import pytest
import torch
from mmengine.logging import MMLogger
from torch import nn

from mmhad.engine import KeepOptimizerOptionsHook
from mmhad.utils.compat import apply_runtime_patches
from tests.helpers import toy_runner


def _runner(work_dir, max_epochs, fused, resume=False, hooks=()):
    return toy_runner(work_dir, max_epochs, dict(type='AdamW', lr=0.01, weight_decay=0.05,
                                                 fused=fused),
                      resume=resume, hooks=hooks, name=f'adamw{fused}')


@pytest.fixture
def loop_checkpoint_dir(tmp_path):
    """A work dir whose latest checkpoint (epoch 2) was saved by the per-parameter loop."""
    apply_runtime_patches()
    _runner(tmp_path, 2, fused=False).train()
    return tmp_path


def _group_fused(runner):
    return {g['fused'] for g in runner.optim_wrapper.optimizer.param_groups}


def test_without_the_hook_pytorch_restores_the_checkpoints_implementation(
        loop_checkpoint_dir):
    """Why the hook exists: load_state_dict brings back fused=False."""
    resumed = _runner(loop_checkpoint_dir, 3, fused=True, resume=True)
    resumed.train()
    assert _group_fused(resumed) == {False}


def test_resume_keeps_the_configured_fused_kernel_and_the_saved_state(
        loop_checkpoint_dir, tmp_path_factory):
    resumed = _runner(loop_checkpoint_dir, 3, fused=True, resume=True,
                      hooks=[dict(type='KeepOptimizerOptionsHook')])
    resumed.train()
    assert resumed.train_loop.epoch == 3
    assert _group_fused(resumed) == {True}
    # the state came from the checkpoint: the resumed run ends where a run that was never
    # stopped ends (the loop and the fused kernel agree to float32 rounding)
    uninterrupted = _runner(tmp_path_factory.mktemp('full'), 3, fused=False)
    uninterrupted.train()
    torch.testing.assert_close(resumed.model.linear.weight,
                               uninterrupted.model.linear.weight, rtol=1e-5, atol=1e-6)
    state = resumed.optim_wrapper.optimizer.state[resumed.model.linear.weight]
    assert float(state['step']) == 6  # 2 iterations per epoch, 3 epochs


def test_load_from_and_untouched_options_are_left_alone():
    class FakeRunner:
        _resume = False
        optim_wrapper = None
        logger = MMLogger.get_instance('keep_optimizer_options')
    checkpoint = dict(optimizer=dict(param_groups=[dict(fused=False, lr=1.)]))
    KeepOptimizerOptionsHook().after_load_checkpoint(FakeRunner(), checkpoint)
    assert checkpoint['optimizer']['param_groups'][0]['fused'] is False  # not resuming

    model = nn.Linear(2, 2)
    FakeRunner._resume = True
    FakeRunner.optim_wrapper = type('W', (), dict(optimizer=torch.optim.AdamW(
        model.parameters(), lr=2., fused=True)))()
    KeepOptimizerOptionsHook().after_load_checkpoint(FakeRunner(), checkpoint)
    saved = checkpoint['optimizer']['param_groups'][0]
    assert saved['fused'] is True and saved['lr'] == 1.  # the schedule's lr is the saved one
