# Mask R-CNN-EfficientMod-xs 1x COCO (not in the paper, which reports s and s_conv).
# The official recipe of mask-rcnn_efficientmod-s_fpn_1x_coco.py with this backbone.
_base_ = './mask-rcnn_efficientmod-s_fpn_1x_coco.py'
pretrained = 'checkpoints/efficientmod-xs_in1k.pth'
model = dict(
    backbone=dict(arch='xs', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[32, 64, 144, 288]))
