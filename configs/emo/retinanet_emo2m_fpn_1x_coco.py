# RetinaNet-EMO-2M 1x COCO (not in the paper, which reports RetinaNet for 5M only).
_base_ = './retinanet_emo5m_fpn_1x_coco.py'
pretrained = 'checkpoints/emo-2m_in1k.pth'
model = dict(
    backbone=dict(arch='2m', window_size=7, init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[32, 48, 120, 200]))
