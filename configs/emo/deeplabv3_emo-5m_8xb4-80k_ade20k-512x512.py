# DeepLabv3 ADE20K 512x512 80k with emo-5m: the EMO official DeepLabv3 recipe
# (zhangzjn/EMO, training logs), official run: zhangzjn/EMO resources/DeepLabv3_EMO_5M/;
# backbone settings as the official run.
_base_ = '../_base_/deeplabv3_8xb4-80k_ade20k-512x512.py'
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
    decode_head=dict(in_channels=288),
    auxiliary_head=dict(in_channels=160))
