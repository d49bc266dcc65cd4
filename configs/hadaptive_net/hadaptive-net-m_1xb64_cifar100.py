# Hadaptive-Net-M on CIFAR-100, same recipe and classifier as the S config.
_base_ = './hadaptive-net-s_1xb64_cifar100.py'

model = dict(backbone=dict(arch='m'))
