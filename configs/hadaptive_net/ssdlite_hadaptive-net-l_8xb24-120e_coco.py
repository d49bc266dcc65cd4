# SSDLite-320 COCO with hadaptive-net-l. INVENTED here: no official recipe exists for
# this pair; it borrows ../_base_/ssdlite_8xb24-120e_coco.py, the EMO official SSDLite
# recipe (zhangzjn/EMO, training logs).
_base_ = '../_base_/ssdlite_8xb24-120e_coco.py'
# ImageNet weights: train configs/hadaptive_net/hadaptive-net-l_8xb64-200e_in1k.py (none are published)
pretrained = 'checkpoints/hadaptive-net-l_in1k.pth'

model = dict(
    backbone=dict(
        type='HadaptiveNet',
        arch='l',
        out_indices=(2, 3),
        with_last_conv=True,
        max_stride=32,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=(192, 960), out_channels=(192, 960, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(192, 960, 512, 256, 256, 128)))
