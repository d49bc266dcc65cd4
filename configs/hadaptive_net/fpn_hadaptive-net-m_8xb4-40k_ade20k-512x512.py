# Semantic FPN ADE20K 512x512 40k with hadaptive-net-m. INVENTED here: no official
# recipe exists for this pair; it borrows ../_base_/fpn_8xb4-40k_ade20k-512x512.py, the
# EfficientMod official Semantic FPN recipe (ma-xu/EfficientMod segmentation/).
_base_ = '../_base_/fpn_8xb4-40k_ade20k-512x512.py'
# ImageNet weights: train configs/hadaptive_net/hadaptive-net-m_8xb64-200e_in1k.py (none are published)
pretrained = 'checkpoints/hadaptive-net-m_in1k.pth'

model = dict(
    backbone=dict(
        type='HadaptiveNet',
        arch='m',
        out_indices=(0, 1, 2, 3),
        with_last_conv=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[48, 80, 128, 192]))
