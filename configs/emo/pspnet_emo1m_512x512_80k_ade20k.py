# PSPNet-EMO-1M (EMO paper Table 10: 4.3 M params, 2.1 G FLOPs, 33.2 mIoU).
_base_ = './pspnet_emo5m_512x512_80k_ade20k.py'
pretrained = 'checkpoints/emo-1m_in1k.pth'
model = dict(
    backbone=dict(arch='1m', window_size=7, drop_path_rate=0.04036,
                  init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=168),
    auxiliary_head=dict(in_channels=80))
