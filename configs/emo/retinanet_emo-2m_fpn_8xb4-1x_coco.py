# RetinaNet + FPN 1x COCO with emo-2m: the EMO official RetinaNet recipe (zhangzjn/EMO,
# training logs), official run: zhangzjn/EMO resources/RetinaNet_EMO_2M/; backbone
# settings as the official run.
_base_ = '../_base_/retinanet_fpn_8xb4-1x_coco.py'
# official ImageNet weights, converted by tools/model_converters
pretrained = 'checkpoints/emo-2m_in1k.pth'

model = dict(
    backbone=dict(
        type='EMO',
        arch='2m',
        out_indices=(0, 1, 2, 3),
        window_size=7,
        drop_path_rate=0.05,
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[32, 48, 120, 200]))
