# Baseline of Table 4: mmpretrain's MobileNetV3-Small with the same data, recipe and
# classifier as mobilenet-v3-small-hadamard_1xb64-200e_cifar100.py.
_base_ = './mobilenet-v3-small-hadamard_1xb64-200e_cifar100.py'

model = dict(backbone=dict(_delete_=True, type='MobileNetV3', arch='small'))
