"""Normalisation layers shared by the backbones."""
import torch.nn.functional as F
from torch import Tensor, nn

from mmhad.registry import MODELS


@MODELS.register_module('LN2d')
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel dimension of an NCHW tensor.

    Same parameters (``weight``, ``bias`` of shape ``(C,)``) and result as
    ``nn.LayerNorm(C)`` applied to the NHWC permutation, so checkpoints of channels-last
    implementations load unchanged. Registered as ``'LN2d'`` for ``build_norm_layer``.
    """

    _abbr_ = 'ln'

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
