# Mask R-CNN + FPN 1x COCO with hadaptive-net-s. INVENTED here: no official recipe
# exists for this pair; it borrows ../_base_/mask-rcnn_fpn_8xb4-1x_coco.py, the
# EfficientMod official Mask R-CNN recipe (ma-xu/EfficientMod detection/).
_base_ = '../_base_/mask-rcnn_fpn_8xb4-1x_coco.py'
# ImageNet weights: train configs/hadaptive_net/hadaptive-net-s_8xb64-200e_in1k.py (none are published)
pretrained = 'checkpoints/hadaptive-net-s_in1k.pth'

model = dict(
    backbone=dict(
        type='HadaptiveNet',
        arch='s',
        out_indices=(0, 1, 2, 3),
        with_last_conv=False,
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[32, 64, 96, 128]))
