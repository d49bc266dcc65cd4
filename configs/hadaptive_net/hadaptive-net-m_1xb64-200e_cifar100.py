# Hadaptive-Net-M on CIFAR-100 (paper Table 5): the official recipe and classifier of
# hadaptive-net-s_1xb64-200e_cifar100.py.
_base_ = './hadaptive-net-s_1xb64-200e_cifar100.py'

model = dict(backbone=dict(arch='m'))
