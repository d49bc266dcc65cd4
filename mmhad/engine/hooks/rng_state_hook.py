"""Resuming reproduces the uninterrupted run: random generator states in checkpoints.

MMEngine re-seeds a resumed run from the config's seed, so the random streams of the
data pipeline (flips, crops) and of the model (drop path, Gumbel noise) restart from the
beginning instead of continuing; the resumed weights then differ from those of a run
that was never stopped. :class:`RNGStateHook` stores the Python / NumPy / torch
generator states in every checkpoint and puts them back on ``resume`` (not on a plain
``load_from``). Registered in MMEngine's root ``HOOKS`` by ``import mmhad``:
``custom_hooks = [dict(type='RNGStateHook')]``.
"""
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

__all__ = ['RNGStateHook', 'get_rng_state', 'set_rng_state']

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


@HOOKS.register_module()
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
