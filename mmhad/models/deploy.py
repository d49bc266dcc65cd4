"""The inference ("deploy") form of a backbone or a whole model, in place.

``switch_to_deploy(model)`` works on an mmhad backbone (each has it as a method, the name
mmpretrain uses) and on a whole detector / segmentor / classifier: the backbone folds
what only it knows, and every Conv + BatchNorm pair of the neck and head is fused too
(what ``--fuse-conv-bn`` did in mmdet 2.x tools). ``tools/test.py --deploy``,
``tools/demo/image_demo.py --deploy`` and ``custom_hooks=[dict(type='SwitchToDeployHook')]``
use it.
"""
from torch import nn


# models being switched: a backbone's ``switch_to_deploy()`` method calls this function
_SWITCHING = set()


def switch_to_deploy(model: nn.Module) -> nn.Module:
    """Turn ``model`` into its inference form, in place and once (idempotent).

    Every sub-module with its own ``switch_to_deploy`` folds what only it knows (EMO's
    input BN into the following 1x1 conv and its small-window attention run as plain
    matmuls, EfficientMod's layer scale into its projection
    and each Linear followed by GELU into one :class:`~mmhad.models.layers.LinearGELU`,
    its downsampling conv weights stored in the channels-last layout they run in,
    ACH's BatchNorms into its conv and its product norm into constants, the scale of which
    a Hadamard block's depth-wise conv takes into its weight, Hadaptive-Net's stem and
    first conv into one conv and its downsampling Ghost blocks into two depth-wise
    convs), then every
    remaining Conv + BatchNorm pair is fused (mmcv's ``fuse_conv_bn``). The outputs equal
    the eval-mode outputs of the training form up to float rounding; parameters stop
    requiring gradients and ``train()`` is refused afterwards.
    """
    if getattr(model, 'deploy', False) or id(model) in _SWITCHING:
        return model  # already switched (idempotent), or a backbone's method calling back
    from mmcv.cnn import fuse_conv_bn
    _SWITCHING.add(id(model))
    try:
        model.eval()
        # the model's own method too: a layer given alone (an ACH) folds what it knows
        for module in list(model.modules()):
            if callable(getattr(module, 'switch_to_deploy', None)):
                module.switch_to_deploy()
        fuse_conv_bn(model)
        model.eval()  # modules the folds created (LinearGELU) start in training mode
    finally:
        _SWITCHING.discard(id(model))
    for param in model.parameters():
        param.requires_grad_(False)
    model.deploy = True
    return model


def refuse_training_if_deployed(model: nn.Module, mode: bool) -> None:
    if mode and getattr(model, 'deploy', False):
        raise RuntimeError(f'{type(model).__name__}: switch_to_deploy() made this model '
                           'inference-only (BatchNorms fused); build a new one to train.')
