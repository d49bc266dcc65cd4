# Semantic FPN-EfficientMod-xxs, ADE20K 512x512 (not in the paper, which reports s and s_conv).
# Official recipe (ma-xu/EfficientMod segmentation/configs/sem_fpn/): 40k iters at batch 32
# (8x4), AdamW 2e-4, wd 1e-4, 1000-iter linear warm-up from 0.1x, cosine to 1e-6x.
# The official s / s_conv configs have their FPN in_channels swapped; ours are the
# backbone's own out_channels (a test compares them).
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)
pretrained = 'checkpoints/efficientmod-xxs_in1k.pth'
norm_cfg = dict(type='BN', requires_grad=True)
sync_bn = 'torch'  # BN in one process; SyncBN under DDP

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='EfficientMod',
        arch='xxs',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[32, 64, 128, 256]),
    decode_head=dict(norm_cfg=norm_cfg))

max_iters = 40000
train_dataloader = dict(batch_size=4)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=1000),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-6, by_epoch=False, begin=1000,
         end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=4000))
