# PSPNet-Hadaptive-Net-M, ADE20K 512x512, 80k, with the EMO PSPNet recipe
# (configs/emo/pspnet_emo5m_512x512_80k_ade20k.py).
_base_ = '../emo/pspnet_emo5m_512x512_80k_ade20k.py'
# No ImageNet weights are published for Hadaptive-Net: pre-train with
# configs/hadaptive_net/hadaptive-net-m_8xb64_in1k.py and point `pretrained` at the result,
# or train from scratch with --cfg-options model.backbone.init_cfg=None.
pretrained = 'checkpoints/hadaptive-net-m_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='HadaptiveNet',
        arch='m',
        out_indices=(0, 1, 2, 3),
        with_last_conv=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=192),
    auxiliary_head=dict(in_channels=128))
