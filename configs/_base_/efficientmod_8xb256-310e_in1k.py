# ImageNet-1k classification: the recipe of the EfficientMod paper (Appendix B), ported
# from the official DeiT-style training script and README command:
#   ma-xu/EfficientMod train.py (timm 0.6.13 defaults), README.md   (8 GPUs x 256 images)
# AdamW 4e-3, weight decay 0.05 except 1-d parameters, biases and layer scale; warm-up
# from 1e-6 over 5 epochs and a cosine to 1e-5 over epochs 0-300 (timm warmup_prefix=False),
# both stepped per epoch, then timm's 10 cool-down epochs at 1e-5 (310 in all); RandAugment
# rand-m9-mstd0.5-inc1, random erasing 0.25, mixup 0.8 / cutmix 1.0, label smoothing 0.1,
# EMA 0.9998 of parameters and buffers, evaluation every epoch, best EMA checkpoint kept.
# The model config sets the arch, its drop path and the head width.
# Remaining deviations (distillation among them): configs/README.md#fidelity.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)
default_scope = 'mmpretrain'

model = dict(
    type='ImageClassifier',
    # final_norm: LayerNorm on the last stage, then global pooling, as the official head
    backbone=dict(type='EfficientMod', out_indices=(3, ), final_norm=True,
                  layer_scale_init_value=1e-4),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02, bias=0.)),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0),
    ]),
)

train_dataloader = dict(batch_size=256, num_workers=8, drop_last=True)
val_dataloader = dict(batch_size=256, num_workers=8)
test_dataloader = val_dataloader

# timm's optimizer factory: no weight decay on 1-d parameters (norms, biases, layer scale)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=4e-3, weight_decay=0.05, eps=1e-8,
                   betas=(0.9, 0.999), fused=True),  # fused: configs/README.md
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={'.gamma': dict(decay_mult=0.)}),
)
max_epochs = 310
# LinearLR reaches its end factor at end - 1: end=6 gives timm's 1e-6 + t (lr - 1e-6) / 5;
# the cosine runs one step past T_max (end=301) so the cool-down epochs sit at eta_min
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 4e-3, by_epoch=True, begin=0, end=6),
    dict(type='CosineAnnealingLR', T_max=300, eta_min=1e-5, by_epoch=True, begin=0,
         end=301),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
auto_scale_lr = dict(base_batch_size=2048)
default_hooks = dict(checkpoint=dict(save_best='auto'))
custom_hooks = [
    dict(type='EMAHook', momentum=2e-4, update_buffers=True, priority='ABOVE_NORMAL')
]
randomness = dict(seed=42)
