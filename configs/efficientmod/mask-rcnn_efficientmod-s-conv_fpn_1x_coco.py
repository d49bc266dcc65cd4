# Mask R-CNN-EfficientMod-s-conv 1x COCO (paper Table 7: 32.6 M params, 42.1 box AP / 38.5 mask AP).
# Official recipe (ma-xu/EfficientMod detection/): mmdet's Mask R-CNN R50-FPN 1x (steps at
# epochs 8 and 11) with AdamW 2e-4, wd 0.05; all four stages into the FPN.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)
# convert official weights: tools/model_converters/efficientmod_to_mmhad.py SRC DST
pretrained = 'checkpoints/efficientmod-s-conv_in1k.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='EfficientMod',
        arch='s_conv',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[40, 80, 160, 344]))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-4, weight_decay=0.05))
