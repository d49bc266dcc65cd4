# Hadaptive-Net-M on ImageNet-1k, same recipe and classifier as the S config.
_base_ = './hadaptive-net-s_8xb64_in1k.py'

model = dict(backbone=dict(arch='m'))
