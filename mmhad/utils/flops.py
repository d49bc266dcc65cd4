"""FLOP counting with ``mmengine.analysis``, the way the papers count.

Convention: one multiply-add = one FLOP (fvcore / mmengine). mmengine has no handle for
``aten::scaled_dot_product_attention``, so attention's two matmuls (``QK^T`` and
``attn @ V``) would silently count as zero; :func:`sdpa_flop_jit` adds them, matching the
official models that write attention as explicit matmuls. Softmax, activations and other
element-wise ops are not counted (as in the papers' fvcore numbers).

The papers' *dense-prediction* tables (EMO Tables 8-10, EfficientMod Table 7) were counted
with mmcv 1.x's module-hook counter, which sees Conv/Linear/Norm modules but not functional
matmuls, so their figures leave attention out: pass ``count_attention=False`` to compare
with them (DeepLabv3-EMO-5M at 512x512: 5.86 G without, 6.61 G with attention, paper
5.8 G; Semantic FPN-EfficientMod-s: 28.17 G without, 30.48 G with, paper 28.1 G).
"""
import copy
import math
from typing import Sequence, Tuple

import torch
from torch import nn


def sdpa_flop_jit(inputs, outputs) -> int:
    """FLOPs of ``aten::scaled_dot_product_attention``: ``QK^T`` plus ``attn @ V``."""
    from mmengine.analysis.jit_handles import get_shape
    q, k, v = (get_shape(x) for x in inputs[:3])
    return math.prod(q[:-2]) * q[-2] * k[-2] * (q[-1] + v[-1])


class _TensorForward(nn.Module):
    """Calls ``model(x, data_samples, mode='tensor')`` for OpenMMLab models (detectors,
    segmentors, classifiers); plain modules are called as they are."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.tensor_mode = _accepts_mode(model)

    def forward(self, x):
        if not self.tensor_mode:
            return self.model(x)
        return self.model(x, _dummy_data_samples(self.model, x.shape), mode='tensor')


def _dummy_data_samples(model: nn.Module, shape):
    """Two-stage detectors read image metas even in tensor mode (RPN proposals)."""
    try:
        from mmdet.models.detectors import TwoStageDetector
        from mmdet.structures import DetDataSample
    except ImportError:
        return None
    if not isinstance(model, TwoStageDetector):
        return None
    hw = tuple(shape[-2:])
    samples = []
    for _ in range(shape[0]):
        sample = DetDataSample()
        sample.set_metainfo(dict(img_shape=hw, ori_shape=hw, pad_shape=hw,
                                 batch_input_shape=hw, scale_factor=(1., 1.)))
        samples.append(sample)
    return samples


def _accepts_mode(model: nn.Module) -> bool:
    import inspect
    try:
        return 'mode' in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def count_flops(model: nn.Module, inputs: Sequence[torch.Tensor],
                count_attention: bool = True) -> Tuple[int, list]:
    """Return (FLOPs, sorted names of ops the analysis skipped) of ``model(*inputs)``."""
    from mmengine.analysis import FlopAnalyzer
    model = copy.deepcopy(model)
    model.eval()     # not chained: some backbones' train() returns None (mmpretrain's MobileNetV3)
    # mmengine's analyzer walks ``module._modules`` and breaks on ``None`` children
    # (e.g. mmpretrain's MobileNetV2): keep them as plain ``None`` attributes instead.
    for module in list(model.modules()):
        for key in [k for k, v in module._modules.items() if v is None]:
            del module._modules[key]
            module.__dict__[key] = None
    analyzer = FlopAnalyzer(_TensorForward(model), tuple(inputs))
    analyzer.set_op_handle('aten::scaled_dot_product_attention',
                           sdpa_flop_jit if count_attention else None)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    total = analyzer.total()
    return int(total), sorted(analyzer.unsupported_ops())


def count_model_flops(model: nn.Module, input_shape=(3, 224, 224),
                      count_attention: bool = True) -> int:
    """FLOPs of one ``input_shape`` image through ``model`` (tensor mode)."""
    with torch.no_grad():
        return count_flops(model, (torch.zeros(1, *input_shape), ), count_attention)[0]
