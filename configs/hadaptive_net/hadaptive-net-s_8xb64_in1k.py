# Hadaptive-Net-S on ImageNet-1k.
# The paper reports ImageNet-1k top-1 (Table 5) but gives only one training recipe, the
# one of its CIFAR-100 section: AdamW (lr 1e-3, weight decay 1e-4), cosine annealing after
# a 5% linear warm-up, 200 epochs, 224x224 inputs. This config applies it with
# mmpretrain's standard ImageNet pipeline (RandomResizedCrop 224 + flip; resize 256 +
# center crop 224) at 8 GPUs x 64 images; it is not a verified reproduction.
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
warmup_epochs = 10  # 5% of 200
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0.,
         by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# the lr above is for a total batch of 512 (8 GPUs x 64); --auto-scale-lr rescales it
auto_scale_lr = dict(base_batch_size=512)
