"""Every AdamW config runs PyTorch's fused AdamW (``fused=True``), and that kernel takes
the update of the per-parameter loop PyTorch would run on the CPU otherwise
(configs/README.md, "Implementation choices")."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from torch import nn

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                                      recursive=True)
                 if f'{osp.sep}_base_{osp.sep}' not in p)


def test_every_config_trains_with_the_fused_adamw():
    adamw, unfused = [], []
    for path in CONFIGS:
        optimizer = Config.fromfile(path).optim_wrapper.optimizer
        if optimizer.type == 'AdamW':
            adamw.append(path)
            if optimizer.get('fused') is not True:
                unfused.append(osp.relpath(path, REPO))
    assert len(adamw) > 50  # every recipe of the three papers trains with AdamW
    assert not unfused, f'AdamW without fused=True: {unfused}'


class TinyNet(nn.Module):
    """A conv, a norm (named so that the recipes' ``custom_keys={'norm': ...}`` match)
    and a linear head: parameter groups with and without weight decay."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.norm = nn.BatchNorm2d(8)
        self.head = nn.Linear(8, 5)


@pytest.mark.parametrize('recipe', ['ssdlite_8xb24-120e_coco.py',
                                    'emo_8xb256-300e_in1k.py'])
def test_fused_adamw_takes_the_recipe_update(recipe):
    """Five steps of the recipe's optimizer wrapper (its parameter groups, weight decay,
    gradient clipping), fused, against the same with ``fused=False``: equal to float32
    rounding (a different update, e.g. coupled weight decay, differs by ~lr x wd)."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', recipe))
    torch.manual_seed(0)
    net = TinyNet()
    models = [net, copy.deepcopy(net)]
    wrappers = []
    for model, fused in zip(models, (True, False)):
        wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
        wrapper_cfg.optimizer.pop('_delete_', None)
        wrapper_cfg.get('paramwise_cfg', {}).pop('_delete_', None)
        wrapper_cfg.optimizer.fused = fused
        wrapper_cfg.type = 'OptimWrapper'  # an AMP wrapper needs a GPU
        wrappers.append(build_optim_wrapper(model, wrapper_cfg))
    assert wrappers[0].optimizer.defaults['fused'] is True
    start = {name: p.detach().clone() for name, p in models[0].named_parameters()}
    gen = torch.Generator().manual_seed(1)
    for _ in range(5):
        grads = [torch.randn(p.shape, generator=gen) for p in models[0].parameters()]
        for model, wrapper in zip(models, wrappers):
            for p, g in zip(model.parameters(), grads):
                p.grad = g.clone()
            wrapper.step()
    for (name, fused), loop in zip(models[0].named_parameters(), models[1].parameters()):
        assert (fused - start[name]).abs().max() > 1e-3, name  # ~lr a step: it moved
        torch.testing.assert_close(fused, loop, rtol=1e-5, atol=1e-6, msg=name)
