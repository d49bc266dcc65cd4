# Mask R-CNN-EfficientMod-xxs 1x COCO (not in the paper, which reports s and s_conv).
# Official recipe (ma-xu/EfficientMod detection/): mmdet's Mask R-CNN R50-FPN 1x (steps at
# epochs 8 and 11) with AdamW 2e-4, wd 0.05; all four stages into the FPN.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)
# convert official weights: tools/model_converters/efficientmod_to_mmhad.py SRC DST
pretrained = 'checkpoints/efficientmod-xxs_in1k.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='EfficientMod',
        arch='xxs',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[32, 64, 128, 256]))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-4, weight_decay=0.05))
