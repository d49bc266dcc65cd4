# ImageNet-1k classification, 300 epochs at 224: the recipe of the EMO paper (Sec. 3.1,
# Tab. 6), ported from the official training code and the arguments printed in its logs
# (they win over the released file where they differ):
#   zhangzjn/EMO configs/mobile/cls_emo.py (+ the trainer it drives)
#   zhangzjn/EMO resources/EMO_{1M,2M,5M,6M}/log_train.txt   (8 GPUs x 256 images)
# AdamW 6e-3 (1.5e-3 x 2048 / 512), weight decay 0.05 except 1-d parameters and biases,
# gradient-norm clip 5, timm warm-up from 1e-6 over 20 epochs and a cosine to 1e-6 over
# the whole 300 epochs (timm warmup_prefix=False: the warm-up overrides the first 20
# epochs of the cosine), both stepped per iteration; label smoothing 0.1, RandAugment
# rand-m9-mstd0.5-inc1, no mixup / cutmix / random erasing, EMA 0.9998 of parameters and
# BN statistics, evaluation every 5 epochs and every epoch from 200 (the paper reports the
# best EMA epoch), incomplete last batch dropped. The model config sets the arch, its
# drop path and the head width. Remaining deviations: configs/README.md#fidelity.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)
default_scope = 'mmpretrain'

model = dict(
    type='ImageClassifier',
    # final_norm: the official pre-head LayerNorm on stage 4, then global average pooling
    backbone=dict(type='EMO', out_indices=(3, ), final_norm=True),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        topk=(1, 5),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02, bias=0.)),
)

# timm's create_transform(auto_augment='rand-m9-mstd0.5-inc1', re_prob=0): no random
# erasing (the swin base pipeline has it) and no colour jitter (timm skips it under RA)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=256, num_workers=8, drop_last=True,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=125, num_workers=8)
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=6e-3, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999),
                   fused=True),  # fused: one kernel, the same update (configs/README.md)
    # official add_weight_decay: no decay on 1-d parameters and biases
    paramwise_cfg=dict(_delete_=True, norm_decay_mult=0., bias_decay_mult=0.),
    clip_grad=dict(max_norm=5.0),
)
max_epochs = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 6e-3, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-6, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=5,
                 dynamic_intervals=[(200, 1)])
auto_scale_lr = dict(base_batch_size=2048)
default_hooks = dict(checkpoint=dict(save_best='auto'))
custom_hooks = [
    dict(type='EMAHook', momentum=2e-4, update_buffers=True, priority='ABOVE_NORMAL')
]
randomness = dict(seed=42)
