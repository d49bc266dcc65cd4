"""Runner checkpoints save -> load -> resume under torch >= 2.6 (weights_only default)."""
import pickle

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from mmhad.utils.compat import apply_runtime_patches


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        out = self.linear(inputs)  # default_collate already stacked the batch
        if mode == 'loss':
            return dict(loss=((out.squeeze(1) - labels)**2).mean())
        return out


class ToyData(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        x = torch.randn(2, generator=g)
        return dict(inputs=x, labels=x.sum())


def _runner(work_dir, max_epochs, resume=False):
    torch.manual_seed(0)  # the model is built before the Runner seeds
    return Runner(
        model=ToyModel(), work_dir=str(work_dir), experiment_name=f'toy{max_epochs}{resume}',
        train_dataloader=dict(dataset=ToyData(), sampler=dict(type='DefaultSampler',
                                                              shuffle=False),
                              batch_size=4, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        resume=resume, randomness=dict(seed=0), default_scope='mmengine')


def test_unpatched_torch_load_rejects_runner_checkpoint(tmp_path):
    """Documents why the patch exists; skips once the stack no longer needs it."""
    runner = _runner(tmp_path, 1)
    runner.train()
    try:
        torch.load(str(tmp_path / 'epoch_1.pth'))
    except pickle.UnpicklingError:
        return
    pytest.skip('torch.load accepts mmengine checkpoints by default again')


def test_resume_continues_from_saved_state(tmp_path):
    apply_runtime_patches()
    full = _runner(tmp_path / 'full', 2)
    full.train()
    expected = full.model.linear.weight.detach().clone()

    _runner(tmp_path / 'part', 1).train()
    resumed = _runner(tmp_path / 'part', 2, resume=True)
    resumed.train()
    assert resumed.train_loop.epoch == 2
    assert resumed.message_hub.get_info('epoch') == 2 or resumed.epoch == 2
    # resuming reproduces the uninterrupted run exactly (same data order, same state)
    torch.testing.assert_close(resumed.model.linear.weight, expected)
