# Semantic FPN ADE20K 512x512 40k with efficientmod-s-conv: the EfficientMod official
# Semantic FPN recipe (ma-xu/EfficientMod segmentation/), official config: ma-
# xu/EfficientMod segmentation/configs/sem_fpn/efficientMod_s_Conv.py; backbone settings
# as the official run.
_base_ = '../_base_/fpn_8xb4-40k_ade20k-512x512.py'
# official ImageNet weights, converted by tools/model_converters
pretrained = 'checkpoints/efficientmod-s-conv_in1k.pth'

model = dict(
    backbone=dict(
        type='EfficientMod',
        arch='s_conv',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.02,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[40, 80, 160, 344]))

# the official s_Conv config anneals to min_lr_ratio 0 (the s config: 1e-6)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=1001),
    dict(type='CosineAnnealingLR', T_max=40000, eta_min_ratio=0., by_epoch=False,
         begin=0, end=40000)
]
