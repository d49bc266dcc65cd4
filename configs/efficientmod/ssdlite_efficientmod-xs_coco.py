# SSDLite-EfficientMod-xs, 320x320 COCO. Not in the paper: the EMO SSDLite recipe
# (configs/emo/ssdlite_emo5m_coco.py): stages 3-4 into the depthwise SSDNeck.
_base_ = '../emo/ssdlite_emo5m_coco.py'
pretrained = 'checkpoints/efficientmod-xs_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='EfficientMod',
        arch='xs',
        out_indices=(2, 3),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=(144, 288), out_channels=(144, 288, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(144, 288, 512, 256, 256, 128)))
