# Hadaptive-Net-M on ImageNet-1k. INVENTED here (no official ImageNet recipe): the
# recipe and classifier of hadaptive-net-s_8xb64-200e_in1k.py.
_base_ = './hadaptive-net-s_8xb64-200e_in1k.py'

model = dict(backbone=dict(arch='m'))
