# Semantic FPN-Hadaptive-Net-S, ADE20K 512x512, with the EMO / EfficientMod Semantic
# FPN recipe (configs/emo/fpn_emo5m_512x512_40k_ade20k.py).
_base_ = '../emo/fpn_emo5m_512x512_40k_ade20k.py'
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
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[32, 64, 96, 128]))
