# RetinaNet-EMO-5M 1x COCO (EMO paper Table 9: 14.4 M params, 38.9 mAP).
# Official recipe: all four stages, FPN from stage 2 with extra convs on the input,
# AdamW 2e-4 / wd 0.05 / no decay on norms, 500-iter linear warm-up, stem+stage 1 frozen.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
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
    neck=dict(in_channels=[48, 72, 160, 288], start_level=1, add_extra_convs='on_input'))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-4, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0))
sync_bn = 'torch'
