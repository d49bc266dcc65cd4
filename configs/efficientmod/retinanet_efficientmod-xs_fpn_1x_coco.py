# RetinaNet-EfficientMod-xs 1x COCO. Not in the paper: the EMO RetinaNet recipe
# (configs/emo/retinanet_emo5m_fpn_1x_coco.py) with this backbone.
_base_ = '../emo/retinanet_emo5m_fpn_1x_coco.py'
pretrained = 'checkpoints/efficientmod-xs_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='EfficientMod',
        arch='xs',
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[32, 64, 144, 288]))
