# SSDLite-EMO-2M (EMO paper Table 8: 3.3 M params, 0.9 G FLOPs, 25.2 mAP).
_base_ = './ssdlite_emo5m_coco.py'
pretrained = 'checkpoints/emo-2m_in1k.pth'
model = dict(
    backbone=dict(arch='2m', window_size=7, drop_path_rate=0.05,
                  init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=(120, 200), out_channels=(120, 200, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(120, 200, 512, 256, 256, 128)))
