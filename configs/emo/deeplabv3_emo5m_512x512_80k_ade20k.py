# DeepLabv3-EMO-5M, ADE20K 512x512, 80k iters (EMO paper Table 10: 10.3 M params,
# 5.8 G FLOPs, 37.8 mIoU). Official recipe: ASPP head (256 channels) on stage 4, FCN aux
# head on stage 3, window 16, AdamW 1.2e-4 / wd 0.01 / no decay on norms, poly schedule.
_base_ = 'mmseg::deeplabv3/deeplabv3_r50-d8_4xb4-80k_ade20k-512x512.py'
custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)
pretrained = 'checkpoints/emo-5m_in1k.pth'
# BN in one process; converted to SyncBN by MMEngine when launched distributed.
norm_cfg = dict(type='BN', requires_grad=True)
sync_bn = 'torch'

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='EMO',
        arch='5m',
        out_indices=(0, 1, 2, 3),
        window_size=16,  # official segmentation-5M value
        drop_path_rate=0.05,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=288, channels=256, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=160, norm_cfg=norm_cfg))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.2e-4, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=80000, by_epoch=False)
]
