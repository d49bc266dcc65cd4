# DeepLabv3-EMO-1M (EMO paper Table 10: 5.6 M params, 2.4 G FLOPs, 33.5 mIoU).
_base_ = './deeplabv3_emo5m_512x512_80k_ade20k.py'
pretrained = 'checkpoints/emo-1m_in1k.pth'
model = dict(
    backbone=dict(arch='1m', window_size=7, drop_path_rate=0.04036,
                  init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=168),
    auxiliary_head=dict(in_channels=80))
