# Hadaptive-Net-S on ImageNet-1k. INVENTED here: the paper reports ImageNet-1k top-1
# (Table 5) but publishes no ImageNet recipe. This borrows the optimizer and schedule of
# the official CIFAR-100 recipe (../_base_/hadaptive-net_1xb64-200e_cifar100.py: AdamW 1e-3,
# weight decay 1e-4, per-epoch warm-up (epoch + 1) / 10 for 10 epochs, then a cosine with
# T_max 200 to 1e-6, 200 epochs) with mmpretrain's standard ImageNet pipeline
# (RandomResizedCrop 224 + flip; resize 256 + center crop 224) at 8 GPUs x 64 images;
# it is not a verified reproduction.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64.py',
    'mmpretrain::_base_/default_runtime.py',
]

custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)
default_scope = 'mmpretrain'

model = dict(
    type='ImageClassifier',
    backbone=dict(type='HadaptiveNet', arch='s', out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='StackedLinearClsHead',
        num_classes=1000,
        in_channels=960,
        mid_channels=[1280],
        dropout_rate=0.3,
        act_cfg=dict(type='HSwish'),
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))

max_epochs = 200
warmup_epochs = 10
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-4,
                   fused=True))  # fused: one kernel, the same update (configs/README.md)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=warmup_epochs),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# the lr above is for a total batch of 512 (8 GPUs x 64); --auto-scale-lr rescales it
auto_scale_lr = dict(base_batch_size=512)
