# Semantic FPN ADE20K 512x512 40k with efficientmod-s: the EfficientMod official
# Semantic FPN recipe (ma-xu/EfficientMod segmentation/), official config: ma-
# xu/EfficientMod segmentation/configs/sem_fpn/efficientMod_s.py; backbone settings as
# the official run.
_base_ = '../_base_/fpn_8xb4-40k_ade20k-512x512.py'
# official ImageNet weights, converted by tools/model_converters
pretrained = 'checkpoints/efficientmod-s_in1k.pth'

model = dict(
    backbone=dict(
        type='EfficientMod',
        arch='s',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.02,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[32, 64, 144, 312]))
