# Semantic FPN-EfficientMod-xs, ADE20K 512x512 (not in the paper, which reports s and s_conv).
# The recipe of fpn_efficientmod-s_512x512_40k_ade20k.py with this backbone; channels are
# the backbone's own out_channels (the official configs have s / s_conv swapped).
_base_ = './fpn_efficientmod-s_512x512_40k_ade20k.py'
pretrained = 'checkpoints/efficientmod-xs_in1k.pth'
model = dict(
    backbone=dict(arch='xs', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[32, 64, 144, 288]))
