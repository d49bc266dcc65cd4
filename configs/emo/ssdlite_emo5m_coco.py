# SSDLite-EMO-5M, 320x320 COCO (EMO paper Table 8: 6.0 M params, 1.8 G FLOPs, 27.9 mAP).
# Official recipe (zhangzjn/EMO down-stream-tasks): stages 3-4 (strides 16/32) into a
# depthwise SSDNeck, AdamW 1.2e-3 / wd 0.05 / no decay on norms, 500-iter linear warm-up +
# cosine, 120 epochs over RepeatDataset x5 -- the schedule, data pipeline and head of
# mmdet's SSDLite-MobileNetV2 config, which this inherits.
_base_ = 'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py'
custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)

# ImageNet-1k weights: convert the official checkpoint with
#   python tools/model_converters/emo_to_mmhad.py EMO_5M/net.pth checkpoints/emo-5m_in1k.pth
# or train from scratch with --cfg-options model.backbone.init_cfg=None
pretrained = 'checkpoints/emo-5m_in1k.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='EMO',
        arch='5m',
        out_indices=(2, 3),
        window_size=10,  # official SSDLite-5M value (7 in the classifier)
        drop_path_rate=0.05,
        frozen_stages=-1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=(160, 288), out_channels=(160, 288, 512, 256, 256, 128)),
    # SSDHeadWithPredict = mmdet's SSDHead + the attribute mmdet 3.3.0 forgets, so
    # validation/testing work (see mmhad/models/heads/ssd_head.py).
    bbox_head=dict(type='SSDHeadWithPredict', in_channels=(160, 288, 512, 256, 256, 128)))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1.2e-3, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0))

# BN in one process; converted to SyncBN by MMEngine when launched distributed.
sync_bn = 'torch'
