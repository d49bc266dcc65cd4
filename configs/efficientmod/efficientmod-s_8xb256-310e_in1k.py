# EfficientMod-s on ImageNet-1k: the official recipe
# (../_base_/efficientmod_8xb256-310e_in1k.py; ma-xu/EfficientMod train.py + README), with the
# drop path its official model factory hard-codes.
_base_ = '../_base_/efficientmod_8xb256-310e_in1k.py'

model = dict(
    backbone=dict(arch='s', drop_path_rate=0.02),
    head=dict(in_channels=312))
