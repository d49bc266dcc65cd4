# SSDLite-Hadaptive-Net-L, 320x320 COCO, with the EMO SSDLite recipe
# (configs/emo/ssdlite_emo5m_coco.py). Stage 3 and the 960-channel last conv (strides
# 16/32) feed the depthwise SSDNeck, as mmdet's SSDLite-MobileNetV2 uses its 1280 conv.
_base_ = '../emo/ssdlite_emo5m_coco.py'
# No ImageNet weights are published for Hadaptive-Net: pre-train with
# configs/hadaptive_net/hadaptive-net-l_8xb64_in1k.py and point `pretrained` at the result,
# or train from scratch with --cfg-options model.backbone.init_cfg=None.
pretrained = 'checkpoints/hadaptive-net-l_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='HadaptiveNet',
        arch='l',
        out_indices=(2, 3),
        with_last_conv=True,
        max_stride=32,  # the public L downsamples to 64 in stage 4
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=(192, 960), out_channels=(192, 960, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(192, 960, 512, 256, 256, 128)))
