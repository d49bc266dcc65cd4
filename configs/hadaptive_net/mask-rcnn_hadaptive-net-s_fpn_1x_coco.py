# Mask R-CNN-Hadaptive-Net-S 1x COCO, with the EMO Mask R-CNN recipe
# (configs/emo/mask-rcnn_emo5m_fpn_1x_coco.py: mmdet's 1x schedule with AdamW 2e-4).
_base_ = '../emo/mask-rcnn_emo5m_fpn_1x_coco.py'
# No ImageNet weights are published for Hadaptive-Net: pre-train with
# configs/hadaptive_net/hadaptive-net-s_8xb64_in1k.py and point `pretrained` at the result,
# or train from scratch with --cfg-options model.backbone.init_cfg=None.
pretrained = 'checkpoints/hadaptive-net-s_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='HadaptiveNet',
        arch='s',
        out_indices=(0, 1, 2, 3),
        with_last_conv=False,
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[32, 64, 96, 128]))
