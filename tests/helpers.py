"""Helpers shared by the tests (import as ``from tests.helpers import ...``)."""
import math
from collections import OrderedDict
from typing import Iterable, Sequence, Tuple

import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset


def fill_state_dict(keys_shapes: Iterable[Tuple[str, Sequence[int]]],
                    seed: int) -> 'OrderedDict[str, torch.Tensor]':
    """Deterministic float32 weights for ``(key, shape)`` pairs, drawn in the given order.

    One ``torch.Generator`` seeded with ``seed`` draws every tensor in turn, so the same
    key order and seed give the same weights here and in a fixture-producing script that
    imports this function. Scales keep activations O(1) through a deep net:
    ``N(0, 1/fan_in)`` for tensors with >= 2 dims, ``1 + N(0, 0.1^2)`` for 1-d ``*weight``
    (norm scales) and ``N(0, 0.1^2)`` for other 1-d tensors (biases, layer scales).
    """
    gen = torch.Generator().manual_seed(seed)
    state = OrderedDict()
    for key, shape in keys_shapes:
        shape = tuple(int(s) for s in shape)
        noise = torch.randn(shape, generator=gen, dtype=torch.float32)
        if len(shape) >= 2:
            value = noise / math.sqrt(math.prod(shape[1:]))
        elif key.endswith('weight'):
            value = 1. + 0.1 * noise
        else:
            value = 0.1 * noise
        state[key] = value
    return state


def state_dict_checksum(state) -> float:
    """Order-independent float64 sum of all values, to detect a changed generator."""
    return float(sum(v.double().sum() for v in state.values()))


def fill_state_dict_bn(keys_shapes: Iterable[Tuple[str, Sequence[int]]],
                       seed: int) -> 'OrderedDict[str, torch.Tensor]':
    """:func:`fill_state_dict` with valid BatchNorm buffers (for eval-mode parity tests).

    Same draws in the same order; then ``*running_var`` becomes ``0.5 + |draw|`` (positive)
    and ``*num_batches_tracked`` an int64 zero.
    """
    state = fill_state_dict(keys_shapes, seed)
    for key, value in state.items():
        if key.endswith('running_var'):
            state[key] = 0.5 + value.abs()
        elif key.endswith('num_batches_tracked'):
            state[key] = torch.zeros(value.shape, dtype=torch.long)
    return state


def seeded_input(shape: Sequence[int], seed: int) -> torch.Tensor:
    """``N(0, 1)`` float32 input of ``shape`` from a generator seeded with ``seed``."""
    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed))


def ach_inputs(b=2, c=7, cs=4, h=3, w=2, dtype=torch.float64, seed=0):
    """Seeded ``(x (B, C, H, W), idx (B, Cs) distinct per row, generator)`` for the ACH op."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, c, h, w, generator=g, dtype=dtype)
    idx = torch.stack([torch.randperm(c, generator=g)[:cs] for _ in range(b)])
    return x, idx, g


def ach_affine(kind, b, p, dtype, g):
    """``(scale, shift)``: None, per pair ``(P,)`` ('channel') or per sample ``(B, P)``."""
    if kind is None:
        return None, None
    shape = (p, ) if kind == 'channel' else (b, p)
    return (torch.rand(shape, generator=g, dtype=dtype) + 0.5,
            torch.randn(shape, generator=g, dtype=dtype))


def has_cxx_compiler() -> bool:
    """A C++ compiler is on PATH, so mmhad's ACH CPU kernels can be built."""
    import shutil
    return bool(shutil.which('c++') or shutil.which('g++'))


def registered_backbones() -> dict:
    """Every backbone mmhad registers in MMEngine's MODELS, by type name."""
    from mmengine.registry import MODELS

    import mmhad  # noqa: F401  (registers the backbones)
    return {name: cls for name, cls in MODELS.module_dict.items()
            if cls.__module__.startswith('mmhad.models.backbones.')}


_SMALLEST_ARCH = {}


def smallest_arch(name: str) -> str:
    """The arch of backbone ``name`` with the fewest parameters (read from its
    ``arch_settings``, never typed)."""
    if name not in _SMALLEST_ARCH:
        from mmengine.registry import MODELS
        sizes = {arch: sum(p.numel() for p in
                           MODELS.build(dict(type=name, arch=arch)).parameters())
                 for arch in registered_backbones()[name].arch_settings}
        _SMALLEST_ARCH[name] = min(sizes, key=sizes.get)
    return _SMALLEST_ARCH[name]



class ToyRegressor(BaseModel):
    """``Linear(3, 1)`` fitted to the sum of its inputs (the model of :func:`toy_runner`)."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, inputs, labels, mode='tensor'):
        out = self.linear(inputs)  # default_collate already stacked the batch
        if mode == 'loss':
            return dict(loss=((out.squeeze(1) - labels)**2).mean())
        return out


class ToyRegressionData(Dataset):
    """8 seeded samples ``x ~ N(0, I_3)`` labelled ``x.sum()``."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        x = torch.randn(3, generator=torch.Generator().manual_seed(i))
        return dict(inputs=x, labels=x.sum())


def toy_runner(work_dir, max_epochs: int, optimizer: dict, resume: bool = False,
               hooks: Sequence[dict] = (), name: str = 'toy') -> Runner:
    """An MMEngine ``Runner`` training :class:`ToyRegressor` on
    :class:`ToyRegressionData` (batch 4, two iterations an epoch, no shuffling),
    checkpointing every epoch: for tests of checkpoint save / load / resume. The same
    arguments build the same run."""
    torch.manual_seed(0)  # the model is built before the Runner seeds
    return Runner(
        model=ToyRegressor(), work_dir=str(work_dir),
        experiment_name=f'{name}{max_epochs}{resume}{len(hooks)}',
        train_dataloader=dict(dataset=ToyRegressionData(),
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=4, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=optimizer),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        custom_hooks=list(hooks), resume=resume, randomness=dict(seed=0),
        default_scope='mmengine')
