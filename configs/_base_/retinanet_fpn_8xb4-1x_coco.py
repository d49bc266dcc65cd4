# RetinaNet + FPN, 1x (12 epochs) on COCO: the recipe of the EMO paper's RetinaNet runs
# (Table 9), ported field by field from the config printed in the official training
# logs, which win over the released config where they differ:
#   zhangzjn/EMO down-stream-tasks/mmdetection/configs/retinanet_emo/retinanet_emo_{1M,2M,5M}_fpn_1x_coco.py
#   zhangzjn/EMO resources/RetinaNet_EMO_{1M,2M,5M}/*.log   (8 GPUs x 4 images, seed 0)
# Unlike mmdet's RetinaNet 1x (8 x 2 images, step decay at epochs 8 and 11), the official
# runs anneal with a cosine stepped per epoch to 0 after a 500-iteration linear warm-up
# (the logged lr: 1.966e-4 at epoch 2, 3.407e-6 at epoch 12).
# Remaining deviations: configs/README.md#fidelity.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)

model = dict(
    # filled by the model config: all four stages, stem + stage 1 frozen, norm_eval
    backbone=dict(_delete_=True),
    # FPN from stage 2 (stride 8), extra convs on the input, as mmdet's RetinaNet
    neck=dict(start_level=1, add_extra_convs='on_input'))

train_dataloader = dict(batch_size=4, num_workers=4)
auto_scale_lr = dict(enable=False, base_batch_size=32)

# AdamW 2e-4; no weight decay on parameters whose name contains 'norm' (substring match)
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-4, betas=(0.9, 0.999),
                   weight_decay=0.05, fused=True),  # fused: configs/README.md
    paramwise_cfg=dict(custom_keys={
        'norm': dict(decay_mult=0.),
        # mmhad names EMO's official DW-conv norm 'conv_local.norm' as 'conv_local.bn'
        'conv_local.bn': dict(decay_mult=0.)}))
max_epochs = 12
# LinearLR reaches its end factor at end - 1: end=501 is mmcv's 500-iteration warm-up
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=501),
    dict(type='CosineAnnealingLR', begin=0, T_max=max_epochs, end=max_epochs,
         by_epoch=True, eta_min=0)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
randomness = dict(seed=0)
