# Hadaptive-Net-S on CIFAR-100 (paper Table 5): the official recipe
# (../_base_/hadaptive-net_1xb64-200e_cifar100.py). The classifier is the public one
# (acelych/conductor Classifier(nc, 1280, 0.3) after the backbone's 960-channel 1x1 conv):
# global average pooling -> Linear(960, 1280) -> Hardswish -> Dropout(0.3) -> Linear(1280, 100).
_base_ = '../_base_/hadaptive-net_1xb64-200e_cifar100.py'

model = dict(
    type='ImageClassifier',
    # ste='public': the official code's straight-through sign (README#fidelity)
    backbone=dict(type='HadaptiveNet', arch='s', out_indices=(3, ),
                  ach_cfg=dict(ste='public')),
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
