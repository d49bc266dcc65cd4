"""Official EfficientMod (timm-style) checkpoint -> mmpretrain ``ImageClassifier``.

Official keys (``models/EfficientMod.py`` of ma-xu/EfficientMod) and ours:

* ``patch_embed.{proj,norm}``            -> ``backbone.stem.{conv,norm}``
* ``layers.i.downsample.{proj,norm}``    -> ``backbone.stages.{i+1}.downsample.{conv,norm}``
  (official down-samples at the end of a stage, mmhad at the start of the next)
* EfficientMod block ``layers.i.blocks.j``: ``gamma_1`` -> ``gamma``, ``norm`` -> ``norm``,
  ``mlp.fc1`` -> ``mod.v``, ``mlp.context_layer.{f,g}`` -> ``mod.ctx.{f,g}``,
  ``mlp.context_layer.context_list.0`` -> ``mod.ctx.dwconv``, ``mlp.fc2`` -> ``mod.proj``
* attention block ``layers.i.blocks.j``: ``norm1``, ``attn.qkv``, ``attn.proj``,
  ``norm2``, ``mlp.fc1``, ``mlp.fc2`` keep their names
* ``norm`` -> ``backbone.norm`` (``final_norm=True``), ``head`` -> ``head.fc``

Both block kinds own ``mlp.fc1``/``mlp.fc2``; :func:`convert_efficientmod` first tags the
attention blocks (those with ``attn.qkv.weight``) as ``attn_blocks`` so the plain regex
rules in :data:`EFFICIENTMOD_RULES` can tell them apart.
"""
import re
from collections import OrderedDict
from typing import Dict

import torch

from ..checkpoint import rename_keys

_B = r'layers\.(\d+)\.blocks\.(\d+)'      # an EfficientMod block
_A = r'layers\.(\d+)\.attn_blocks\.(\d+)'  # an attention block (after tagging)
_OUT = r'backbone.stages.\1.blocks.\2'
_P = r'(weight|bias)'

EFFICIENTMOD_RULES = [
    (rf'patch_embed\.proj\.{_P}', r'backbone.stem.conv.\1'),
    (rf'patch_embed\.norm\.{_P}', r'backbone.stem.norm.\1'),
    # official layers.i.downsample is our stages.(i+1).downsample (three stages have one)
    *[(rf'layers\.{i}\.downsample\.proj\.{_P}', rf'backbone.stages.{i + 1}.downsample.conv.\1')
      for i in range(3)],
    *[(rf'layers\.{i}\.downsample\.norm\.{_P}', rf'backbone.stages.{i + 1}.downsample.norm.\1')
      for i in range(3)],
    # EfficientMod blocks
    (rf'{_B}\.gamma_1', rf'{_OUT}.gamma'),
    (rf'{_B}\.norm\.{_P}', rf'{_OUT}.norm.\3'),
    (rf'{_B}\.mlp\.fc1\.{_P}', rf'{_OUT}.mod.v.\3'),
    (rf'{_B}\.mlp\.fc2\.{_P}', rf'{_OUT}.mod.proj.\3'),
    (rf'{_B}\.mlp\.context_layer\.(f|g)\.{_P}', rf'{_OUT}.mod.ctx.\3.\4'),
    (rf'{_B}\.mlp\.context_layer\.context_list\.0\.{_P}', rf'{_OUT}.mod.ctx.dwconv.\3'),
    # attention blocks
    (rf'{_A}\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.{_P}',
     rf'{_OUT}.\3.\4'),
    # classifier
    (rf'norm\.{_P}', r'backbone.norm.\1'),
    (rf'head\.{_P}', r'head.fc.\1'),
]

_ATTN_QKV = re.compile(r'(layers\.\d+)\.blocks\.(\d+)\.attn\.qkv\.weight')


def tag_attention_blocks(state: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """Rename ``layers.i.blocks.j.*`` to ``layers.i.attn_blocks.j.*`` for attention blocks."""
    attn_prefixes = set()
    for key in state:
        match = _ATTN_QKV.fullmatch(key)
        if match:
            attn_prefixes.add(f'{match.group(1)}.blocks.{match.group(2)}.')
    out = OrderedDict()
    for key, value in state.items():
        for prefix in attn_prefixes:
            if key.startswith(prefix):
                key = prefix.replace('.blocks.', '.attn_blocks.') + key[len(prefix):]
                break
        out[key] = value
    return out


def convert_efficientmod(state: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """Official EfficientMod state dict -> mmpretrain classifier state dict.

    Every official key must map (:func:`rename_keys` raises on a leftover key).
    For a detection/segmentation backbone, load the result with
    ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
    """
    return rename_keys(tag_attention_blocks(state), EFFICIENTMOD_RULES,
                       source='official EfficientMod')
