# DeepLabv3 ADE20K 512x512 80k with hadaptive-net-l. INVENTED here: no official recipe
# exists for this pair; it borrows ../_base_/deeplabv3_8xb4-80k_ade20k-512x512.py, the
# EMO official DeepLabv3 recipe (zhangzjn/EMO, training logs).
_base_ = '../_base_/deeplabv3_8xb4-80k_ade20k-512x512.py'
# ImageNet weights: train configs/hadaptive_net/hadaptive-net-l_8xb64-200e_in1k.py (none are published)
pretrained = 'checkpoints/hadaptive-net-l_in1k.pth'

model = dict(
    backbone=dict(
        type='HadaptiveNet',
        arch='l',
        out_indices=(0, 1, 2, 3),
        with_last_conv=False,
        max_stride=32,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=256),
    auxiliary_head=dict(in_channels=192))
