# MobileNetV3-Small with its last two inverted bottlenecks (layer10, layer11; IB9 and
# IB10 of the paper's Table 2) replaced by Hadamard bottlenecks (ACH expansion, Cs = 32),
# paper Table 4 "MobileNetV3-S (repl.)": 1.61 M -> 1.55 M params, 123 -> 114 MFLOPs at
# 100 classes and 224x224. The official CIFAR-100 recipe
# (../_base_/hadaptive-net_1xb64-200e_cifar100.py); the classifier is the public one
# (Classifier(nc, 1024, 0.3)) = mmpretrain's MobileNetV3-Small head with dropout 0.3.
_base_ = '../_base_/hadaptive-net_1xb64-200e_cifar100.py'

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='HadamardMobileNetV3',
        arch='small',
        hadamard_layers=(10, 11),
        num_selected=32,
        ach_cfg=dict(ste='public')),  # the official straight-through sign
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='StackedLinearClsHead',
        num_classes=100,
        in_channels=576,
        mid_channels=[1024],
        dropout_rate=0.3,
        act_cfg=dict(type='HSwish'),
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
