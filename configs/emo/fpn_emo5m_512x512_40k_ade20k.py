# Semantic FPN-EMO-5M, ADE20K 512x512 (EMO paper, EfficientNet/EfficientFormer comparison
# table: 40.3 mIoU). No official config exists: the PoolFormer / EfficientFormer Semantic
# FPN recipe these comparisons follow (as in configs/efficientmod/fpn_*): 40k iters, batch
# 32 (8x4), AdamW 2e-4, wd 1e-4, 1000-iter linear warm-up from 0.1x, cosine to 1e-6x.
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)
pretrained = 'checkpoints/emo-5m_in1k.pth'
norm_cfg = dict(type='BN', requires_grad=True)
sync_bn = 'torch'

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='EMO',
        arch='5m',
        out_indices=(0, 1, 2, 3),
        window_size=16,
        drop_path_rate=0.05,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[48, 72, 160, 288]),
    decode_head=dict(norm_cfg=norm_cfg))

max_iters = 40000
train_dataloader = dict(batch_size=4)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=1000),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-6, by_epoch=False, begin=1000,
         end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=4000))
