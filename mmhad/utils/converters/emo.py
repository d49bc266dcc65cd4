"""Official EMO checkpoint -> mmpretrain ``ImageClassifier`` with ``EMO(final_norm=True)``.

Official keys (``model/emo.py`` of zhangzjn/EMO) and ours:

* ``stage0.0.convs.k.{0,1}``     -> ``backbone.stem.0.convs.k.{conv,bn}`` (MSPatchEmb)
* ``stage0.1.*``                 -> ``backbone.stem.1.*`` (stem iRMB)
* ``stage{i}.{j}.*``             -> ``backbone.stages.{i-1}.{j}.*`` (i = 1..4)
* inside an iRMB: ``norm`` (BN) and ``norm.norm`` (the official LayerNorm2d wraps an
  ``nn.LayerNorm``) -> ``norm``; ``qk.conv``, ``v.conv``, ``proj.conv``,
  ``conv_local.conv`` keep their names; ``conv_local.norm`` -> ``conv_local.bn``;
  ``se.conv_{reduce,expand}`` -> ``se.conv_{reduce,expand}.conv``
* ``norm.norm`` -> ``backbone.norm``; ``head`` -> ``head.fc``
"""
from collections import OrderedDict
from typing import Dict, Optional

import torch

from ..checkpoint import CheckpointError, rename_keys

_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
_WB = r'(weight|bias)'

# iRMB-internal rules: (official suffix, ours); group numbers are local to the suffix
_BLOCK_RULES = [
    (rf'norm\.norm\.{_WB}', r'norm.{0}'),          # LN2d (stages 3-4)
    (rf'norm\.{_BN}', r'norm.{0}'),                # BN (stages 1-2)
    (rf'(qk|v)\.conv\.{_WB}', r'{0}.conv.{1}'),
    (r'(conv_local|proj)\.conv\.weight', r'{0}.conv.weight'),
    (rf'conv_local\.norm\.{_BN}', r'conv_local.bn.{0}'),
    (rf'se\.(conv_reduce|conv_expand)\.{_WB}', r'se.{0}.conv.{1}'),
]

# official block prefix -> ours (the stage index shifts by one: stage0 is our stem)
_PREFIXES = [(r'stage0\.1', 'backbone.stem.1')] + [
    (rf'stage{i}\.(\d+)', f'backbone.stages.{i - 1}.{{blk}}') for i in range(1, 5)]


def _block_rules():
    rules = []
    for src_prefix, dst_prefix in _PREFIXES:
        has_blk = '{blk}' in dst_prefix
        for src_suffix, dst_suffix in _BLOCK_RULES:
            # groups: [block index,] then the suffix groups
            offset = 2 if has_blk else 1
            n_groups = dst_suffix.count('{')
            dst = dst_suffix.format(*[rf'\{offset + g}' for g in range(n_groups)])
            prefix = dst_prefix.format(blk=r'\1') if has_blk else dst_prefix
            rules.append((rf'{src_prefix}\.{src_suffix}', f'{prefix}.{dst}'))
    return rules


EMO_RULES = [
    (rf'stage0\.0\.convs\.(\d+)\.0\.{_WB}', r'backbone.stem.0.convs.\1.conv.\2'),
    (rf'stage0\.0\.convs\.(\d+)\.1\.{_BN}', r'backbone.stem.0.convs.\1.bn.\2'),
    *_block_rules(),
    (rf'norm\.norm\.{_WB}', r'backbone.norm.\1'),
    (rf'head\.{_WB}', r'head.fc.\1'),
]


def convert_emo(state: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """Official EMO state dict -> mmpretrain classifier state dict.

    Every official key must map (:func:`rename_keys` raises on a leftover key, e.g. the
    ``pre_head`` of a model built with ``pre_dim > 0``, which mmhad does not implement).
    For a detection/segmentation backbone, load the result with
    ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
    """
    return rename_keys(state, EMO_RULES, source='official EMO')


def infer_emo_arch(state: Dict[str, torch.Tensor]) -> Optional[str]:
    """Name of the arch (``'1m'`` .. ``'6m'``) whose backbone fits a converted state dict."""
    from mmhad.models.backbones.emo import EMO
    shapes = {k[len('backbone.'):]: tuple(v.shape) for k, v in state.items()
              if k.startswith('backbone.')}
    for arch in EMO.arch_settings:
        model = EMO(arch=arch, out_indices=(3,), final_norm=True)
        own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        if own == shapes:
            return arch
    return None


def check_converted_emo(state: Dict[str, torch.Tensor], arch: Optional[str] = None) -> str:
    """Check a converted state dict against ``EMO(arch, final_norm=True)`` + a linear head;
    ``arch=None`` infers it. Returns the arch; raises :class:`CheckpointError` otherwise."""
    from mmhad.models.backbones.emo import EMO
    from ..checkpoint import check_state_dict_matches
    if arch is None:
        arch = infer_emo_arch(state)
        if arch is None:
            raise CheckpointError('the converted keys/shapes fit none of the EMO archs '
                                  f'{sorted(EMO.arch_settings)}; pass --arch to see why.')
    backbone = EMO(arch=arch, out_indices=(3,), final_norm=True)
    check_state_dict_matches(
        backbone, {k[len('backbone.'):]: v for k, v in state.items()
                   if k.startswith('backbone.')})
    head_w = state.get('head.fc.weight')
    if head_w is None or head_w.ndim != 2 or head_w.shape[1] != backbone.out_channels[-1]:
        raise CheckpointError(
            f'head.fc.weight {None if head_w is None else tuple(head_w.shape)} does not fit '
            f'EMO-{arch} ({backbone.out_channels[-1]} channels).')
    return arch
