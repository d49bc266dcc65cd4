# EfficientMod-xxs on ImageNet-1k, the paper's recipe (Ma et al., ICLR 2024, Appendix B
# Fig. 5 / Table 5): DeiT-style training, AdamW lr 4e-3, batch 8 x 256 = 2048, weight
# decay 0.05, 300 epochs with 5 warm-up, RandAugment rand-m9-mstd0.5-inc1, random erasing
# 0.25, mixup 0.8, cutmix 1.0, label smoothing 0.1, layer scale 1e-4, drop path
# 0 / 0 / 0.02 / 0.02 (xxs / xs / s / s-conv).
# Official checkpoints: tools/model_converters/efficientmod_to_mmhad.py.
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
    backbone=dict(
        type='EfficientMod',
        arch='xxs',
        out_indices=(3, ),
        final_norm=True,
        drop_path_rate=0.,
        layer_scale_init_value=1e-4),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=256,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02, bias=0.)),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0),
    ]),
)

train_dataloader = dict(batch_size=256)
val_dataloader = dict(batch_size=256)
test_dataloader = val_dataloader

# timm's optimizer factory: no weight decay on 1-d parameters (norms, biases, layer scale)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=4e-3, weight_decay=0.05, eps=1e-8,
                   betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={'.gamma': dict(decay_mult=0.)}),
)
# DeiT schedule: linear warm-up from 1e-6 for 5 epochs, cosine to 1e-5
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 4e-3, by_epoch=True, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
auto_scale_lr = dict(base_batch_size=2048)
