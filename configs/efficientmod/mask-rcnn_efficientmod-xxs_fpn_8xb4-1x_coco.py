# Mask R-CNN + FPN 1x COCO with efficientmod-xxs. INVENTED here: no official recipe
# exists for this pair; it borrows ../_base_/mask-rcnn_fpn_8xb4-1x_coco.py, the
# EfficientMod official Mask R-CNN recipe (ma-xu/EfficientMod detection/).
_base_ = '../_base_/mask-rcnn_fpn_8xb4-1x_coco.py'
# official ImageNet weights, converted by tools/model_converters
pretrained = 'checkpoints/efficientmod-xxs_in1k.pth'

model = dict(
    backbone=dict(
        type='EfficientMod',
        arch='xxs',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[32, 64, 128, 256]))
