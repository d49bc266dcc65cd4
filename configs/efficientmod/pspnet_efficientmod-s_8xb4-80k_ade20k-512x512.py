# PSPNet ADE20K 512x512 80k with efficientmod-s. INVENTED here: no official recipe
# exists for this pair; it borrows ../_base_/pspnet_8xb4-80k_ade20k-512x512.py, the EMO
# official PSPNet recipe (zhangzjn/EMO, training logs).
_base_ = '../_base_/pspnet_8xb4-80k_ade20k-512x512.py'
# official ImageNet weights, converted by tools/model_converters
pretrained = 'checkpoints/efficientmod-s_in1k.pth'

model = dict(
    backbone=dict(
        type='EfficientMod',
        arch='s',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.02,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=312),
    auxiliary_head=dict(in_channels=144))
