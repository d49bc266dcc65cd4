# PSPNet (pyramid pooling 1/2/3/6, 256 channels) + FCN auxiliary head, ADE20K 512x512, 80k
# iterations: the recipe of the EMO paper's PSPNet runs (Table 10), ported field by field
# from the config printed in the official training logs:
#   zhangzjn/EMO down-stream-tasks/mmsegmentation/configs/pspnet_emo/*
#   zhangzjn/EMO resources/PSPNet_EMO_{1M,2M,5M}/*.log   (8 GPUs x 4 images)
# The logged PSPNet and DeepLabv3 runs share every training setting (data, optimizer,
# no-decay scope, schedule, SyncBN, evaluation) and differ only in the decode head, so
# this is the DeepLabv3 recipe with the logged PSPHead.
_base_ = './deeplabv3_8xb4-80k_ade20k-512x512.py'
norm_cfg = dict(type='BN', requires_grad=True)  # as the base: SyncBN when distributed

model = dict(
    decode_head=dict(
        _delete_=True,
        type='PSPHead',
        in_channels=2048,  # the model config sets its backbone's last width
        in_index=3,
        channels=256,
        pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
