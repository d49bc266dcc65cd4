# RetinaNet + FPN 1x COCO with efficientmod-s. INVENTED here: no official recipe exists
# for this pair; it borrows ../_base_/retinanet_fpn_8xb4-1x_coco.py, the EMO official
# RetinaNet recipe (zhangzjn/EMO, training logs).
_base_ = '../_base_/retinanet_fpn_8xb4-1x_coco.py'
# official ImageNet weights, converted by tools/model_converters
pretrained = 'checkpoints/efficientmod-s_in1k.pth'

model = dict(
    backbone=dict(
        type='EfficientMod',
        arch='s',
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_eval=True,
        drop_path_rate=0.02,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[32, 64, 144, 312]))
