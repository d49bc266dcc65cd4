# EMO-1M on ImageNet-1k with the paper's recipe (Zhang et al., ICCV 2023, Sec. 3.1 and
# Tab. 6; official configs/mobile/cls_emo.py): 300 epochs at 224, AdamW lr 6e-3 for batch
# 2048 (8 x 256), betas (0.9, 0.999), weight decay 0.05 (none on norms/biases), 20 linear
# warm-up epochs from 1e-6 then cosine down to 1e-6, label smoothing 0.1,
# RandAugment rand-m9-mstd0.5-inc1, no mixup/cutmix/random erasing, gradient norm clip 5,
# EMA 0.9998, drop path 0.04036 (1M) / 0.05 (2M, 5M, 6M).
# Official checkpoints: tools/model_converters/emo_to_mmhad.py.
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
    backbone=dict(
        type='EMO', arch='1m', out_indices=(3, ), final_norm=True,
        drop_path_rate=0.04036),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=168,
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
train_dataloader = dict(batch_size=256, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=125)
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=6e-3, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)),
    # official add_weight_decay: no decay on 1-d parameters and biases
    paramwise_cfg=dict(_delete_=True, norm_decay_mult=0., bias_decay_mult=0.),
    clip_grad=dict(max_norm=5.0),
)
# official: warm-up and minimum lr 2.5e-7 x 2048 / 512 = 1e-6, stepped per iteration
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 6e-3, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=20, end=300,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=5)
auto_scale_lr = dict(base_batch_size=2048)

custom_hooks = [dict(type='EMAHook', momentum=2e-4, priority='ABOVE_NORMAL')]
