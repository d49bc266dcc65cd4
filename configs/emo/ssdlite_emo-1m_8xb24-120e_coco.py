# SSDLite-320 COCO with emo-1m: the EMO official SSDLite recipe (zhangzjn/EMO, training
# logs), official run: zhangzjn/EMO resources/SSDLite_EMO_1M/; backbone settings as the
# official run.
_base_ = '../_base_/ssdlite_8xb24-120e_coco.py'
# official ImageNet weights, converted by tools/model_converters
pretrained = 'checkpoints/emo-1m_in1k.pth'

model = dict(
    backbone=dict(
        type='EMO',
        arch='1m',
        out_indices=(2, 3),
        window_size=7,
        drop_path_rate=0.04036,
        frozen_stages=-1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=(80, 168), out_channels=(80, 168, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(80, 168, 512, 256, 256, 128)))
