# Semantic FPN-Hadaptive-Net-L, ADE20K 512x512, with the EMO / EfficientMod Semantic
# FPN recipe (configs/emo/fpn_emo5m_512x512_40k_ade20k.py).
_base_ = '../emo/fpn_emo5m_512x512_40k_ade20k.py'
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
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[48, 96, 192, 256]))
