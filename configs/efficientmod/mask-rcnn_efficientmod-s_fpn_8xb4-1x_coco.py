# Mask R-CNN + FPN 1x COCO with efficientmod-s: the EfficientMod official Mask R-CNN
# recipe (ma-xu/EfficientMod detection/), official config: ma-xu/EfficientMod
# detection/configs/efficientMod_s.py; backbone settings as the official run.
_base_ = '../_base_/mask-rcnn_fpn_8xb4-1x_coco.py'
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
