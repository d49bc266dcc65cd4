# Mask R-CNN + FPN 1x COCO with emo-5m. INVENTED here: no official recipe exists for
# this pair; it borrows ../_base_/mask-rcnn_fpn_8xb4-1x_coco.py, the EfficientMod
# official Mask R-CNN recipe (ma-xu/EfficientMod detection/).
_base_ = '../_base_/mask-rcnn_fpn_8xb4-1x_coco.py'
# official ImageNet weights, converted by tools/model_converters
pretrained = 'checkpoints/emo-5m_in1k.pth'

model = dict(
    backbone=dict(
        type='EMO',
        arch='5m',
        out_indices=(0, 1, 2, 3),
        window_size=10,
        drop_path_rate=0.05,
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[48, 72, 160, 288]))
