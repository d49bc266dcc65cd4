# DeepLabv3-EMO-2M (EMO paper Table 10: 6.9 M params, 3.5 G FLOPs, 35.3 mIoU).
_base_ = './deeplabv3_emo5m_512x512_80k_ade20k.py'
pretrained = 'checkpoints/emo-2m_in1k.pth'
model = dict(
    backbone=dict(arch='2m', window_size=7, init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=200),
    auxiliary_head=dict(in_channels=120))
