# Hadaptive-Net-L on CIFAR-100, same recipe and classifier as the S config.
# arch 'l' is the public layout, whose stage 4 downsamples twice (ends at stride 64).
_base_ = './hadaptive-net-s_1xb64_cifar100.py'

model = dict(backbone=dict(arch='l'))
