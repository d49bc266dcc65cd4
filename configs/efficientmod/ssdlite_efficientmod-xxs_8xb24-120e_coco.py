# SSDLite-320 COCO with efficientmod-xxs. INVENTED here: no official recipe exists for
# this pair; it borrows ../_base_/ssdlite_8xb24-120e_coco.py, the EMO official SSDLite
# recipe (zhangzjn/EMO, training logs).
_base_ = '../_base_/ssdlite_8xb24-120e_coco.py'
# official ImageNet weights, converted by tools/model_converters
pretrained = 'checkpoints/efficientmod-xxs_in1k.pth'

model = dict(
    backbone=dict(
        type='EfficientMod',
        arch='xxs',
        out_indices=(2, 3),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=(128, 256), out_channels=(128, 256, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(128, 256, 512, 256, 256, 128)))
