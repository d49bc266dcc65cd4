# Mask R-CNN + FPN, 1x (12 epochs) on COCO: the recipe of the EfficientMod paper's
# detection / instance segmentation runs (Table 7), ported field by field from
#   ma-xu/EfficientMod detection/configs/efficientMod_s.py (and efficientMod_s_Conv.py)
#   with its _base_ files (coco_instance.py: 4 images per GPU; README: 8 GPUs)
# No training log is published; the configs and code are the source. AdamW 2e-4, weight
# decay 0.05 on every parameter (no paramwise rule), 500-iteration linear warm-up from
# 0.001x, step decay x0.1 at epochs 8 and 11, evaluation of bbox + segm every epoch.
# Remaining deviations: configs/README.md#fidelity.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)

model = dict(backbone=dict(_delete_=True))  # filled by the model config

train_dataloader = dict(batch_size=4, num_workers=2)
auto_scale_lr = dict(enable=False, base_batch_size=32)

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-4, betas=(0.9, 0.999),
                   weight_decay=0.05, fused=True))  # fused: configs/README.md
# mmdet's schedule_1x (12 epochs, x0.1 at 8 and 11), with the warm-up's end at 501:
# LinearLR reaches its end factor at end - 1, mmcv's warm-up at warmup_iters (500)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=501),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11],
         gamma=0.1)
]
