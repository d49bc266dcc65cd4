# SSDLite-320 on COCO: the recipe of the EMO paper's SSDLite runs (Table 8), ported
# field by field from the config printed in the official training logs, which win
# over the released config where they differ:
#   zhangzjn/EMO down-stream-tasks/mmdetection/configs/ssd_emo/ssdlite_emo_{1M,2M,5M}_pretrain_coco.py
#   zhangzjn/EMO resources/SSDLite_EMO_{1M,2M,5M}/*.log   (8 GPUs x 24 images, seed 0)
# mmdet 2.25 -> 3.3 translation: Normalize/Pad move into the data preprocessor,
# MultiScaleFlipAug(flip=False) becomes a plain Resize, mmcv warm-up + CosineAnnealing
# becomes LinearLR chained with CosineAnnealingLR (both multiply, as in mmcv).
# Remaining deviations: configs/README.md#fidelity. A model config adds the backbone
# (its out_channels feed neck and head) and nothing else.
_base_ = 'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py'
custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)

model = dict(
    # filled by the model config (type, arch, out_indices=(2, 3), window size, ...)
    backbone=dict(_delete_=True),
    # SSDHeadWithPredict = mmdet's SSDHead + the attribute mmdet 3.3.0 forgets, so
    # validation and testing work (mmhad/models/heads/ssd_head.py).
    bbox_head=dict(type='SSDHeadWithPredict'))

# 8 GPUs x 24 images; 8 data workers per GPU as in the log
train_dataloader = dict(batch_size=24, num_workers=8)
auto_scale_lr = dict(enable=False, base_batch_size=192)

# AdamW 1.2e-3 (= 2e-4 x 6 in the source), no weight decay on parameters whose *name*
# contains 'norm' (mmcv custom_keys are substring matches): the iRMB norms and DW-conv
# norms of EMO; the stem BN and every neck/head BN (named 'bn') keep wd 0.05.
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1.2e-3, betas=(0.9, 0.999),
                   weight_decay=0.05, fused=True),  # fused: configs/README.md
    paramwise_cfg=dict(custom_keys={
        'norm': dict(decay_mult=0.),
        # mmhad names EMO's official DW-conv norm 'conv_local.norm' as 'conv_local.bn'
        'conv_local.bn': dict(decay_mult=0.)}))
# 500-iteration linear warm-up from 0.001x multiplying a cosine to 0 stepped per epoch
# over 120 epochs (RepeatDataset x5), evaluation every 5 epochs. LinearLR's `end` is
# exclusive and it reaches its end factor at end - 1, so end=501 gives mmcv's warm-up
# exactly (factor 0.001 + 0.999 * i / 500); mmdet's own configs write 500.
max_epochs = 120
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=501),
    dict(type='CosineAnnealingLR', begin=0, T_max=max_epochs, end=max_epochs,
         by_epoch=True, eta_min=0)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=5))
# official: the backbone's BN is frozen (norm_eval=True), the neck/head BN are plain
# per-GPU BN (mmdet 2 never converts them to SyncBN), so no sync_bn here.
randomness = dict(seed=0)
