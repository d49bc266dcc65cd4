# Semantic FPN ADE20K 512x512 40k with emo-5m. INVENTED here: no official recipe exists
# for this pair; it borrows ../_base_/fpn_8xb4-40k_ade20k-512x512.py, the EfficientMod
# official Semantic FPN recipe (ma-xu/EfficientMod segmentation/).
_base_ = '../_base_/fpn_8xb4-40k_ade20k-512x512.py'
# official ImageNet weights, converted by tools/model_converters
pretrained = 'checkpoints/emo-5m_in1k.pth'

model = dict(
    backbone=dict(
        type='EMO',
        arch='5m',
        out_indices=(0, 1, 2, 3),
        window_size=16,
        drop_path_rate=0.05,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[48, 72, 160, 288]))
