# Semantic FPN-EfficientMod-s-conv, ADE20K 512x512 (paper Table 7: 16.7 M params, 29.0 G FLOPs, 43.5 mIoU).
# The recipe of fpn_efficientmod-s_512x512_40k_ade20k.py with this backbone; channels are
# the backbone's own out_channels (the official configs have s / s_conv swapped).
_base_ = './fpn_efficientmod-s_512x512_40k_ade20k.py'
pretrained = 'checkpoints/efficientmod-s-conv_in1k.pth'
model = dict(
    backbone=dict(arch='s_conv', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[40, 80, 160, 344]))
