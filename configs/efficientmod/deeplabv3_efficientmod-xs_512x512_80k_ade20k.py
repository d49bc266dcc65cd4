# DeepLabv3-EfficientMod-xs, ADE20K 512x512, 80k. Not in the paper: the EMO DeepLabv3 recipe
# (configs/emo/deeplabv3_emo5m_512x512_80k_ade20k.py) with this backbone.
_base_ = '../emo/deeplabv3_emo5m_512x512_80k_ade20k.py'
pretrained = 'checkpoints/efficientmod-xs_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='EfficientMod',
        arch='xs',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=288),
    auxiliary_head=dict(in_channels=144))
