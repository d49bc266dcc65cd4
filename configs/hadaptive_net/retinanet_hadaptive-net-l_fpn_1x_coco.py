# RetinaNet-Hadaptive-Net-L 1x COCO, with the EMO RetinaNet recipe
# (configs/emo/retinanet_emo5m_fpn_1x_coco.py).
_base_ = '../emo/retinanet_emo5m_fpn_1x_coco.py'
# No ImageNet weights are published for Hadaptive-Net: pre-train with
# configs/hadaptive_net/hadaptive-net-l_8xb64_in1k.py and point `pretrained` at the result,
# or train from scratch with --cfg-options model.backbone.init_cfg=None.
pretrained = 'checkpoints/hadaptive-net-l_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='HadaptiveNet',
        arch='l',
        out_indices=(0, 1, 2, 3),
        with_last_conv=False,
        max_stride=32,  # the public L downsamples to 64 in stage 4
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[48, 96, 192, 256]))
