"""mmhad.utils.flops: the FLOP counter shared by get_flops, the benchmark and the tests."""
import torch

from mmhad.utils.flops import count_flops, count_model_flops


def test_counts_a_backbone_whose_train_returns_none():
    """mmpretrain's MobileNetV3.train() returns None, so a chained ``.eval()`` gave None
    (the benchmark lost MobileNetV3's FLOPs). Paper / mmpretrain figure: MobileNetV3-large
    at 224x224 is ~0.22 GFLOPs (219 M multiply-adds in the MobileNetV3 paper)."""
    from mmpretrain.models import MobileNetV3
    model = MobileNetV3(arch='large')
    assert model.train(False) is None                      # the upstream quirk itself
    flops, _ = count_flops(model, (torch.zeros(1, 3, 224, 224), ))
    assert 0.21e9 < flops < 0.235e9


def test_counts_convolution_exactly():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    assert count_model_flops(conv, (3, 16, 16)) == 8 * 3 * 9 * 16 * 16


def test_hadamard_mobilenet_v3_train_returns_self():
    from mmhad.models.backbones.hadamard_mobilenet_v3 import HadamardMobileNetV3
    model = HadamardMobileNetV3(arch='small', hadamard_layers=(10, 11))
    assert model.eval() is model and model.train() is model
