# Mask R-CNN-EMO-5M 1x COCO (EMO paper: 39.3 box AP / 36.4 mask AP). No official config
# exists: mmdet's Mask R-CNN 1x with the RetinaNet-EMO backbone settings and AdamW.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)
pretrained = 'checkpoints/emo-5m_in1k.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='EMO',
        arch='5m',
        out_indices=(0, 1, 2, 3),
        window_size=10,
        drop_path_rate=0.05,
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[48, 72, 160, 288]))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-4, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0))
sync_bn = 'torch'
