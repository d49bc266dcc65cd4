# Mask R-CNN-EfficientMod-s-conv 1x COCO (paper Table 7: 32.6 M params, 42.1 box AP / 38.5 mask AP).
# The official recipe of mask-rcnn_efficientmod-s_fpn_1x_coco.py with this backbone.
_base_ = './mask-rcnn_efficientmod-s_fpn_1x_coco.py'
pretrained = 'checkpoints/efficientmod-s-conv_in1k.pth'
model = dict(
    backbone=dict(arch='s_conv', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[40, 80, 160, 344]))
