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
from .ach import AdaptiveCrossHadamard
from .ghost import GhostModule

__all__ = ['PatchifyConvModule', 'PatchifyPair', 'GhostDownsample', 'AdaptiveBottleneck',
           'hadamard_expanded_channels']

EXPAND_TYPES = ('ghost', 'hadamard')


def hadamard_expanded_channels(in_channels: int, num_selected: int) -> int:
    """Width after ACH: the input plus one product per selected-channel pair."""
    return in_channels + num_selected * (num_selected - 1) // 2


def pad_to_stride(x: Tensor, stride: tuple) -> Tensor:
    """``x`` zero-padded at the bottom/right to a multiple of ``stride`` (h, w)."""
    pad_h, pad_w = -x.shape[-2] % stride[0], -x.shape[-1] % stride[1]
    return F.pad(x, (0, pad_w, 0, pad_h)) if pad_h or pad_w else x


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
        return super().forward(pad_to_stride(x, self.conv.stride), *args, **kwargs)


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


def _foldable(module: nn.Module, cls: type) -> bool:
    """Whether ``module`` is a ``cls`` (a ``ConvModule``) computing ``act(norm(conv(x)))``
    with a square stride, no dilation and a norm that folds into the conv (BatchNorm)."""
    return (isinstance(module, cls) and module.order == ('conv', 'norm', 'act')
            and module.conv.dilation == (1, 1)
            and module.conv.stride[0] == module.conv.stride[1]
            and (not module.with_norm
                 or isinstance(module.norm, (_BatchNorm, nn.Identity))))


def _reads_per_channel(module: nn.Module, channels: int) -> bool:
    """Whether ``module`` is a ``ConvModule`` whose first op is a depth-wise conv of
    ``channels`` channels: channel ``c`` of its output reads only channel ``c`` of its
    input, linearly, so a per-channel scale of the input can move into its weight (its
    padding, zeros or copied values, commutes with the scale)."""
    conv = getattr(module, 'conv', None)
    return (isinstance(module, ConvModule) and module.order[0] == 'conv'
            and isinstance(conv, nn.Conv2d)
            and conv.in_channels == conv.out_channels == conv.groups == channels)


def _folded(module: ConvModule) -> tuple:
    """``(weight, bias)`` of the conv with its BatchNorm folded in (mmcv's
    ``fuse_conv_bn``, in place: the module then computes the same without BN)."""
    fuse_conv_bn(module)
    conv = module.conv
    bias = conv.bias if conv.bias is not None else conv.weight.new_zeros(conv.out_channels)
    return conv.weight.detach(), bias.detach()


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
        (w1, b1), (w2, b2) = _folded(first), _folded(second)
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
        return (_foldable(first, PatchifyConvModule) and _foldable(second, PatchifyConvModule)
                and first.conv.groups == second.conv.groups == 1
                and not first.with_activation
                and first.conv.out_channels == second.conv.in_channels)

    def forward(self, x: Tensor) -> Tensor:
        k1, k2 = self.strides
        h, w = -(-x.shape[-2] // k1), -(-x.shape[-1] // k1)  # first's output size
        if h % k2 or w % k2:
            return self.second(self.first(x))
        return self.activate(self.conv(pad_to_stride(x, self.conv.stride)))


class GhostDownsample(nn.Module):
    """A Ghost expansion and the patchify depth-wise conv after it, computed from the
    intrinsic maps alone (deploy form of a downsampling Ghost bottleneck).

    The Ghost module concatenates its intrinsic maps ``x1`` and their cheap depth-wise
    ``k x k`` conv ``y`` (linear: BN, no activation); the bottleneck's ``s x s``
    stride-``s`` depth-wise conv then runs on that concat. Per channel ``c`` that is
    ``dw_a(x1)`` on the first half and ``dw_b(y) = dw_b(cheap(x1))`` on the second; two
    depth-wise convs in a row are one, with kernel ``s + k - 1``, stride ``s`` and
    padding ``(k - 1) / 2``::

        W[c, i + u, j + v] += Wb[c, i, j] Wc[c, u, v]      (0 <= i, j < s; 0 <= u, v < k)
        b[c]                = bb[c] + bc[c] sum_{i, j} Wb[c, i, j]

    so the full-resolution cheap conv and concat are never computed: the output is
    ``concat(act(dw_a(x1)), act(dw_b'(x1)))`` at the lower resolution (each
    Hadaptive-Net-S downsampling block, timed whole at 224x224, batch 1, 2 threads:
    0.72-0.80x in ONNX Runtime, 0.84-0.86x in PyTorch).

    Exact where the patchify conv pads nothing (the input sides multiples of ``s``);
    elsewhere it zero-pads ``y``, where the composed conv would see ``bc``, so those
    inputs run the original ops (kept, BatchNorms folded).

    Args:
        ghost (GhostModule): ``ratio`` 2, ``out_channels`` even, a cheap conv with
            an odd kernel and no activation, norms that fold (BatchNorm).
        dwconv (PatchifyConvModule): Depth-wise over the Ghost output.
    """

    def __init__(self, ghost: GhostModule, dwconv: PatchifyConvModule):
        super().__init__()
        if not self.composable(ghost, dwconv):
            raise ValueError('GhostDownsample: needs a GhostModule with ratio 2 (even '
                             'out_channels, a linear cheap conv with an odd kernel) and '
                             'a depth-wise PatchifyConvModule over its output; got '
                             f'{type(ghost).__name__} and {type(dwconv).__name__}.')
        (wc, bc), (wd, bd) = _folded(ghost.cheap_operation), _folded(dwconv)
        channels = wc.shape[0]
        s, k = dwconv.conv.stride[0], wc.shape[-1]
        self.dw_a = nn.Conv2d(channels, channels, s, s, groups=channels).to(wd)
        self.dw_b = nn.Conv2d(channels, channels, s + k - 1, s, padding=(k - 1) // 2,
                              groups=channels).to(wd)
        wb = wd[channels:, 0]                                   # (C, s, s)
        weight = wd.new_zeros(channels, s + k - 1, s + k - 1)
        for i in range(s):
            for j in range(s):
                weight[:, i:i + k, j:j + k] += wb[:, i, j, None, None] * wc[:, 0]
        with torch.no_grad():
            self.dw_a.weight.copy_(wd[:channels])
            self.dw_a.bias.copy_(bd[:channels])
            self.dw_b.weight.copy_(weight[:, None])
            self.dw_b.bias.copy_(bd[channels:] + bc * wb.sum((1, 2)))
        self.activate = dwconv.activate if dwconv.with_activation else nn.Identity()
        self.primary_conv = ghost.primary_conv
        self.cheap_operation, self.dwconv = ghost.cheap_operation, dwconv  # odd sizes
        self.stride = s

    @staticmethod
    def composable(ghost: nn.Module, dwconv: nn.Module) -> bool:
        """Whether ``dwconv(ghost(x))`` is a :class:`GhostDownsample`."""
        if not (isinstance(ghost, GhostModule) and _foldable(dwconv, PatchifyConvModule)):
            return False
        cheap, init = ghost.cheap_operation, ghost.primary_conv.conv.out_channels
        return (_foldable(cheap, ConvModule) and not cheap.with_activation
                and cheap.conv.stride == (1, 1) and cheap.conv.kernel_size[0] % 2 == 1
                and cheap.conv.kernel_size[0] == cheap.conv.kernel_size[1]
                and cheap.conv.padding == ((cheap.conv.kernel_size[0] - 1) // 2, ) * 2
                and cheap.conv.groups == init == cheap.conv.out_channels
                and ghost.out_channels == 2 * init
                and dwconv.conv.groups == dwconv.conv.in_channels == 2 * init
                and dwconv.conv.out_channels == 2 * init)

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.primary_conv(x)
        if x1.shape[-2] % self.stride or x1.shape[-1] % self.stride:
            return self.dwconv(torch.cat([x1, self.cheap_operation(x1)], dim=1))
        return torch.cat([self.activate(self.dw_a(x1)), self.activate(self.dw_b(x1))],
                         dim=1)


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

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """A downsampling Ghost block computes its depth-wise conv from the intrinsic
        maps (:class:`GhostDownsample`; ``dwconv`` becomes the identity). A Hadamard
        block's depth-wise conv takes over the constant scale of the ACH product norm
        (:meth:`~mmhad.models.layers.ach.AdaptiveCrossHadamard.fold_product_scale`):
        per channel ``conv(s * a) = (s * conv)(a)``, padding included."""
        if GhostDownsample.composable(self.expand, self.dwconv):
            self.expand = GhostDownsample(self.expand, self.dwconv)
            self.dwconv = nn.Identity()
        elif isinstance(self.expand, AdaptiveCrossHadamard) and _reads_per_channel(
                self.dwconv, self.expand.ce):
            self.expand.switch_to_deploy()  # its product norm as constants first
            scale = self.expand.fold_product_scale()
            if scale is not None:
                weight = self.dwconv.conv.weight
                weight[self.expand.c1:].mul_(scale.to(weight).view(-1, 1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        out = self.dwconv(self.expand(x))
        if self.se is not None:
            out = self.se(out)
        out = self.project(out)
        return x + self.drop_path(out) if self.with_residual else out
