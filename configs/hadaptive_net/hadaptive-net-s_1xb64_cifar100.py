# Hadaptive-Net-S on CIFAR-100, the paper's recipe (Section 4, "Settings"):
# AdamW (lr 1e-3, beta1 0.9, weight decay 1e-4), cosine annealing after a linear warm-up
# over 5% of the epochs, 200 epochs, batch size 64 in total, images resized to 224x224.
# The classifier is the public one (acelych/conductor ``Classifier(nc, 1280, 0.3)`` after
# the backbone's 960-channel 1x1 conv): global average pooling -> Linear(960, 1280) ->
# Hardswish -> Dropout(0.3) -> Linear(1280, 100).
_base_ = [
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    'mmpretrain::_base_/default_runtime.py',
]

custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)
default_scope = 'mmpretrain'

# model settings
model = dict(
    type='ImageClassifier',
    backbone=dict(type='HadaptiveNet', arch='s', out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='StackedLinearClsHead',
        num_classes=100,
        in_channels=960,
        mid_channels=[1280],
        dropout_rate=0.3,
        act_cfg=dict(type='HSwish'),
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))

# data settings: CIFAR crop/flip, then resize to 224 as in the paper
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# schedule settings
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
# the lr above is for a total batch of 64 (1 GPU x 64); --auto-scale-lr rescales it
auto_scale_lr = dict(base_batch_size=64)
