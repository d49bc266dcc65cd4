"""Resuming keeps the configured optimizer implementation (``fused``, ``foreach``, ...).

``torch.optim.Optimizer.load_state_dict`` restores every option of each parameter group
from the checkpoint, the implementation switches included. A run resumed from a
checkpoint saved with ``fused=False`` (every AdamW checkpoint of mmhad before its configs
set ``fused=True``) therefore keeps the per-parameter loop whatever the config says, and
with fp16 ``--amp`` on a GPU the loss scaler then stops with ``Expected grad_scale and
found_inf to be None``. The switches choose how the update is computed, not what it is
(the same update to float32 rounding; ``configs/README.md``), so the configured ones are
the right ones to keep. :class:`KeepOptimizerOptionsHook` puts the built optimizer's
switches into the checkpoint's parameter groups before MMEngine loads them; learning
rates, momenta, weight decay and the optimizer state still come from the checkpoint.
``tools/train.py`` registers it (``tools/common.py: build_runner``); with another entry
point add ``custom_hooks = [dict(type='KeepOptimizerOptionsHook')]``.
"""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

__all__ = ['KeepOptimizerOptionsHook', 'IMPLEMENTATION_OPTIONS']

# torch.optim's options that select a kernel, not the update it computes
IMPLEMENTATION_OPTIONS = ('fused', 'foreach', 'capturable', 'differentiable')


def _optimizer_states(wrapper, saved: dict):
    """Pairs ``(optimizer, saved optimizer state dict)`` of an ``OptimWrapper`` (one) or
    an ``OptimWrapperDict`` (one per name)."""
    wrappers = getattr(wrapper, 'optim_wrappers', None)
    if wrappers is None:
        return [(wrapper.optimizer, saved)]
    return [(w.optimizer, saved[name]) for name, w in wrappers.items() if name in saved]


@HOOKS.register_module()
class KeepOptimizerOptionsHook(Hook):
    """On resume, take each parameter group's implementation options
    (:data:`IMPLEMENTATION_OPTIONS`) from the optimizer the config built, not from the
    checkpoint. A plain ``load_from`` loads no optimizer and is left alone."""

    priority = 'VERY_LOW'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('optimizer')
        wrapper = runner.optim_wrapper
        if not getattr(runner, '_resume', False) or saved is None or isinstance(
                wrapper, dict):  # not built: the runner is not training
            return
        changed = set()
        for optimizer, state in _optimizer_states(wrapper, saved):
            saved_groups = state.get('param_groups', [])
            if len(saved_groups) != len(optimizer.param_groups):
                continue  # load_state_dict reports the mismatch itself
            for group, saved_group in zip(optimizer.param_groups, saved_groups):
                for key in IMPLEMENTATION_OPTIONS:
                    if key in group and saved_group.get(key) != group[key]:
                        changed.add(f'{key}: {saved_group.get(key)} -> {group[key]}')
                        saved_group[key] = group[key]
        if changed:
            runner.logger.info('Resuming with the configured optimizer implementation '
                               '(the checkpoint saved other options): '
                               + ', '.join(sorted(changed)))
