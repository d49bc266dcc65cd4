# DeepLabv3 ADE20K 512x512 80k with hadaptive-net-m. INVENTED here: no official recipe
# exists for this pair; it borrows ../_base_/deeplabv3_8xb4-80k_ade20k-512x512.py, the
# EMO official DeepLabv3 recipe (zhangzjn/EMO, training logs).
_base_ = '../_base_/deeplabv3_8xb4-80k_ade20k-512x512.py'
# ImageNet weights: train configs/hadaptive_net/hadaptive-net-m_8xb64-200e_in1k.py (none are published)
pretrained = 'checkpoints/hadaptive-net-m_in1k.pth'

model = dict(
    backbone=dict(
        type='HadaptiveNet',
        arch='m',
        out_indices=(0, 1, 2, 3),
        with_last_conv=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=192),
    auxiliary_head=dict(in_channels=128))
