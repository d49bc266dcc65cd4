"""Hadaptive-Net building blocks: patchify conv and the Adaptive Bottleneck.

The Adaptive Bottleneck (paper Figure 4, Section 3.4) is an inverted bottleneck whose
expansion layer is chosen per block:

* ``'ghost'``: a :class:`~mmhad.models.layers.GhostModule` expanding ``C`` to
  ``int(C * expansion)`` channels; Hadaptive-Net uses it for downsampling blocks.
* ``'hadamard'``: an Adaptive Cross-Hadamard (ACH) layer selecting ``Cs = expansion``
  channels and appending their ``Cs (Cs - 1) / 2`` pairwise products, i.e. expanding
  ``C`` to ``C + Cs (Cs - 1) / 2`` channels; used for the residual blocks. A block of
  this kind is a *Hadamard bottleneck*.

then a depthwise conv (Hardswish), optional squeeze-excitation, and a linear pointwise
projection, each conv with a single norm. A residual connection is added when the block
keeps resolution and width.

Downsampling uses 2x2 stride-2 convolutions (ViT-style patchify). With an odd input side
a 2x2/2 conv would silently drop the last row/column, so :class:`PatchifyConvModule`
zero-pads the bottom/right to a multiple of the stride first: the output is
``ceil(H / 2) x ceil(W / 2)`` for any input, and identical to the unpadded conv for even
sizes.
"""
from typing import Optional, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, fuse_conv_bn
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmhad.registry import MODELS
from .ghost import GhostModule

__all__ = ['PatchifyConvModule', 'PatchifyPair', 'AdaptiveBottleneck',
           'hadamard_expanded_channels']

EXPAND_TYPES = ('ghost', 'hadamard')


def hadamard_expanded_channels(in_channels: int, num_selected: int) -> int:
    """Width after ACH: the input plus one product per selected-channel pair."""
    return in_channels + num_selected * (num_selected - 1) // 2


class PatchifyConvModule(ConvModule):
    """A ``ConvModule`` with ``kernel_size == stride`` that accepts any input size.

    The input is zero-padded at the bottom/right to a multiple of the stride, so every
    pixel is covered and the output is ``ceil(H / stride) x ceil(W / stride)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 2,
                 **kwargs):
        stride = kwargs.pop('stride', kernel_size)
        if stride != kernel_size:
            raise ValueError(f'PatchifyConvModule: kernel_size ({kernel_size}) must equal '
                             f'stride ({stride}).')
        if kwargs.pop('padding', 0) != 0:
            raise ValueError('PatchifyConvModule pads the input itself; padding must be 0.')
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         padding=0, **kwargs)

    def forward(self, x: Tensor, *args, **kwargs) -> Tensor:
        s = self.conv.stride
        pad_h, pad_w = -x.shape[-2] % s[0], -x.shape[-1] % s[1]
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return super().forward(x, *args, **kwargs)


def build_conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
               groups: int = 1, norm_cfg: Optional[dict] = None,
               act_cfg: Optional[dict] = None, who: str = 'conv') -> ConvModule:
    """A conv with one norm: patchify when ``kernel_size == stride > 1``, else 'same'."""
    if stride > 1 and kernel_size == stride:
        return PatchifyConvModule(in_channels, out_channels, kernel_size, groups=groups,
                                  norm_cfg=norm_cfg, act_cfg=act_cfg)
    if kernel_size % 2 == 0:
        raise ValueError(f'{who}: an even kernel size ({kernel_size}) is only supported for '
                         f'patchify downsampling (kernel_size == stride), got stride '
                         f'{stride}.')
    return ConvModule(in_channels, out_channels, kernel_size, stride=stride,
                      padding=(kernel_size - 1) // 2, groups=groups, norm_cfg=norm_cfg,
                      act_cfg=act_cfg)


def check_ach_cfg(ach_cfg: Optional[dict], who: str) -> dict:
    """Validate the extra ACH arguments a block or backbone passes through."""
    if ach_cfg is None:
        return {}
    if not isinstance(ach_cfg, dict):
        raise TypeError(f'{who}: ach_cfg must be a dict of ACH arguments such as '
                        f"dict(ste='public'), got {type(ach_cfg).__name__}.")
    fixed = sorted(set(ach_cfg) & {'type', 'c1', 'cs', 'norm'})
    if fixed:
        raise ValueError(f'{who}: ach_cfg cannot set {fixed}: the block sets them (choose '
                         f'the product norm per layer in arch / hadamard_norm).')
    return dict(ach_cfg)


class PatchifyPair(nn.Module):
    """Two patchify convs in a row, the first linear, as one patchify conv (deploy form).

    ``second(first(x))``, where ``first`` has kernel = stride ``k1``, weight ``W1``, bias
    ``b1`` and no activation, and ``second`` has kernel = stride ``k2``, ``W2``, ``b2``,
    maps each ``k1 k2 x k1 k2`` input patch to one output pixel: it is the conv with
    kernel = stride ``k1 k2``, followed by ``second``'s activation, with::

        W[o, c, a k1 + i, b k1 + j] = sum_m W2[o, m, a, b] W1[m, c, i, j]
        b[o]                        = b2[o] + sum_{m, a, b} W2[o, m, a, b] b1[m]

    (BatchNorms folded into ``W1, b1`` and ``W2, b2`` first). Hadaptive-Net's linear
    stem and stage 1's first conv become one 4x4 stride-4 conv from 3 to 48 channels
    (Hadaptive-Net-S at 224x224: 24.1 -> 7.2 MMACs).

    Exact where ``second`` sees no padding: when ``ceil(H / k1)`` and ``ceil(W / k1)``
    are multiples of ``k2``, the input padded to a multiple of ``k1 k2`` gives ``first``
    exactly its own padded input. Otherwise :class:`PatchifyConvModule` pads
    ``first``'s *output* with zeros, where the composed conv would see ``b1``; those
    input sizes run the two convs (kept, BatchNorms folded).

    Args:
        first (PatchifyConvModule): Without activation; its norm (if any) a BatchNorm.
        second (PatchifyConvModule): Its norm (if any) a BatchNorm.
    """

    def __init__(self, first: PatchifyConvModule, second: PatchifyConvModule):
        super().__init__()
        if not self.composable(first, second):
            raise ValueError('PatchifyPair: needs two PatchifyConvModules (groups 1, '
                             'dilation 1, BatchNorm or no norm), the first without '
                             'activation, the second taking the first\'s channels; got '
                             f'{type(first).__name__} and {type(second).__name__}.')
        (w1, b1), (w2, b2) = self._folded(first), self._folded(second)
        k1, k2 = first.conv.stride[0], second.conv.stride[0]
        out_channels, in_channels = w2.shape[0], w1.shape[1]
        weight = torch.einsum('omab,mcij->ocaibj', w2, w1).reshape(
            out_channels, in_channels, k1 * k2, k1 * k2)
        bias = b2 + torch.einsum('omab,m->o', w2, b1)
        self.conv = nn.Conv2d(in_channels, out_channels, k1 * k2, k1 * k2).to(w1)
        with torch.no_grad():
            self.conv.weight.copy_(weight)
            self.conv.bias.copy_(bias)
        self.activate = second.activate if second.with_activation else nn.Identity()
        self.first, self.second = first, second  # the input sizes it cannot compose
        self.strides = (k1, k2)

    @staticmethod
    def composable(first: nn.Module, second: nn.Module) -> bool:
        """Whether ``second(first(x))`` is a :class:`PatchifyPair`."""
        def plain(m):
            return (isinstance(m, PatchifyConvModule) and m.conv.groups == 1
                    and m.order == ('conv', 'norm', 'act') and m.conv.dilation == (1, 1)
                    and m.conv.stride[0] == m.conv.stride[1]
                    and (not m.with_norm or isinstance(m.norm, (_BatchNorm, nn.Identity))))
        return (plain(first) and plain(second) and not first.with_activation
                and first.conv.out_channels == second.conv.in_channels)

    @staticmethod
    def _folded(module: PatchifyConvModule):
        """``(weight, bias)`` of the conv with its BatchNorm folded in (mmcv's
        ``fuse_conv_bn``, in place: the module then computes the same without BN)."""
        fuse_conv_bn(module)
        conv = module.conv
        bias = conv.bias if conv.bias is not None else conv.weight.new_zeros(conv.out_channels)
        return conv.weight.detach(), bias.detach()

    def forward(self, x: Tensor) -> Tensor:
        k1, k2 = self.strides
        h, w = -(-x.shape[-2] // k1), -(-x.shape[-1] // k1)  # first's output size
        if h % k2 or w % k2:
            return self.second(self.first(x))
        stride = k1 * k2
        pad_h, pad_w = -x.shape[-2] % stride, -x.shape[-1] % stride
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return self.activate(self.conv(x))


@MODELS.register_module()
class AdaptiveBottleneck(BaseModule):
    """Inverted bottleneck with a Ghost or an Adaptive Cross-Hadamard expansion.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        expand (str): ``'ghost'`` or ``'hadamard'``.
        expansion (float | int): For ``'ghost'`` the expansion ratio (hidden width
            ``int(in_channels * expansion)``); for ``'hadamard'`` the number of selected
            channels ``Cs`` (hidden width ``in_channels + Cs (Cs - 1) / 2``).
        kernel_size (int): Depthwise kernel. ``kernel_size == stride == 2`` is the
            2x2 patchify downsampling of Hadaptive-Net. Defaults to 3.
        stride (int): Depthwise stride (1 or 2). Defaults to 1.
        hadamard_norm (str | type): Normalisation of the Hadamard products, passed to
            ACH as its ``norm`` argument (the public model uses ``'BN'`` and
            ``'DySoft'``). Ignored for ``'ghost'``. Defaults to ``'BN'``.
        ach_cfg (dict, optional): Further arguments of the ACH layer (e.g.
            ``dict(ste='public')``, the straight-through sign of the official code);
            ``c1``, ``cs`` and ``norm`` come from the block. Ignored for ``'ghost'``.
        se_cfg (dict, optional): Squeeze-excitation after the depthwise conv, the
            kwargs of ``mmpretrain.models.utils.SELayer`` without ``channels`` (filled
            with the hidden width). ``None`` (Hadaptive-Net) disables it.
        norm_cfg (dict): Norm of every conv. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation of the depthwise conv (and of the Ghost primary conv).
            Defaults to ``dict(type='HSwish')``.
        drop_path_rate (float): Stochastic depth on the residual branch (only blocks
            with a residual use it). Defaults to 0 (the public model has none).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 expand: str,
                 expansion: Union[int, float],
                 kernel_size: int = 3,
                 stride: int = 1,
                 hadamard_norm='BN',
                 ach_cfg: Optional[dict] = None,
                 se_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='HSwish'),
                 drop_path_rate: float = 0.):
        super().__init__()
        if expand not in EXPAND_TYPES:
            raise ValueError(f'AdaptiveBottleneck: expand must be one of {EXPAND_TYPES}, '
                             f'got {expand!r}.')
        if stride not in (1, 2):
            raise ValueError(f'AdaptiveBottleneck: stride must be 1 or 2, got {stride!r}.')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.expand_type, self.stride = expand, stride
        self.with_residual = stride == 1 and in_channels == out_channels

        if expand == 'hadamard':
            if isinstance(expansion, bool) or not isinstance(expansion, int) \
                    or not 2 <= expansion <= in_channels:
                raise ValueError(
                    f'AdaptiveBottleneck: a hadamard expansion is the number of selected '
                    f'channels, an int in 2..in_channels ({in_channels}), got {expansion!r}.')
            mid_channels = hadamard_expanded_channels(in_channels, expansion)
            self.expand = MODELS.build(dict(
                type='ACH', c1=in_channels, cs=expansion, norm=hadamard_norm,
                **check_ach_cfg(ach_cfg, 'AdaptiveBottleneck')))
        else:
            if not isinstance(expansion, (int, float)) or expansion <= 0:
                raise ValueError(f'AdaptiveBottleneck: a ghost expansion is a positive '
                                 f'ratio, got {expansion!r}.')
            mid_channels = int(in_channels * expansion)
            self.expand = GhostModule(in_channels, mid_channels, norm_cfg=norm_cfg,
                                      act_cfg=dict(type='HSwish'))
        self.mid_channels = mid_channels

        self.dwconv = build_conv(mid_channels, mid_channels, kernel_size, stride,
                                 groups=mid_channels, norm_cfg=norm_cfg, act_cfg=act_cfg,
                                 who='AdaptiveBottleneck')
        if se_cfg is not None:
            from mmpretrain.models.utils import SELayer
            self.se = SELayer(channels=mid_channels, **se_cfg)
        else:
            self.se = None
        self.project = ConvModule(mid_channels, out_channels, 1, norm_cfg=norm_cfg,
                                  act_cfg=None)
        self.drop_path = DropPath(drop_path_rate) \
            if self.with_residual and drop_path_rate > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = self.dwconv(self.expand(x))
        if self.se is not None:
            out = self.se(out)
        out = self.project(out)
        return x + self.drop_path(out) if self.with_residual else out
