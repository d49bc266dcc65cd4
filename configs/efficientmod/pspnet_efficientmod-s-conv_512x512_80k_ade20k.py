# PSPNet-EfficientMod-s-conv, ADE20K 512x512, 80k. Not in the paper: the EMO PSPNet recipe
# (configs/emo/pspnet_emo5m_512x512_80k_ade20k.py) with this backbone.
_base_ = '../emo/pspnet_emo5m_512x512_80k_ade20k.py'
pretrained = 'checkpoints/efficientmod-s-conv_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='EfficientMod',
        arch='s_conv',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=344),
    auxiliary_head=dict(in_channels=160))
