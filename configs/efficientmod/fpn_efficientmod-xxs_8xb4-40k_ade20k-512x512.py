# Semantic FPN ADE20K 512x512 40k with efficientmod-xxs. INVENTED here: no official
# recipe exists for this pair; it borrows ../_base_/fpn_8xb4-40k_ade20k-512x512.py, the
# EfficientMod official Semantic FPN recipe (ma-xu/EfficientMod segmentation/).
_base_ = '../_base_/fpn_8xb4-40k_ade20k-512x512.py'
# official ImageNet weights, converted by tools/model_converters
pretrained = 'checkpoints/efficientmod-xxs_in1k.pth'

model = dict(
    backbone=dict(
        type='EfficientMod',
        arch='xxs',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[32, 64, 128, 256]))
