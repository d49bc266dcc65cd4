# SSDLite-EMO-1M (EMO paper Table 8: 2.3 M params, 0.6 G FLOPs, 22.0 mAP).
_base_ = './ssdlite_emo5m_coco.py'
pretrained = 'checkpoints/emo-1m_in1k.pth'
model = dict(
    backbone=dict(arch='1m', window_size=7, drop_path_rate=0.04036,
                  init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=(80, 168), out_channels=(80, 168, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(80, 168, 512, 256, 256, 128)))
