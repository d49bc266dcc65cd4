# DeepLabv3 (ASPP, 256 channels) + FCN auxiliary head, ADE20K 512x512, 80k iterations:
# the recipe of the EMO paper's DeepLabv3 runs (Table 10), ported field by field from
# the config printed in the official training logs (they win over the released config):
#   zhangzjn/EMO down-stream-tasks/mmsegmentation/configs/deeplabv3_emo/*
#   zhangzjn/EMO resources/DeepLabv3_EMO_{1M,2M,5M}/*.log   (8 GPUs x 4 images)
# AdamW 1.2e-4, weight decay 0.01 except parameters whose name contains 'norm', poly
# decay (power 0.9) to 0 with no warm-up, evaluation and checkpoints every 8000 iterations.
# SyncBN: official backbone and heads use SyncBN; here BN + sync_bn='torch', which MMEngine
# converts to SyncBN when launched distributed (a single process stays BN, so the config
# also runs on one CPU). Remaining deviations: configs/README.md#fidelity.
_base_ = 'mmseg::deeplabv3/deeplabv3_r50-d8_4xb4-80k_ade20k-512x512.py'
custom_imports = dict(imports=['mmhad'], allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
sync_bn = 'torch'

model = dict(
    pretrained=None,
    backbone=dict(_delete_=True),  # filled by the model config (out_indices 0-3)
    decode_head=dict(channels=256, norm_cfg=norm_cfg),   # in_channels: the model config
    auxiliary_head=dict(norm_cfg=norm_cfg))

train_dataloader = dict(batch_size=4, num_workers=4)
auto_scale_lr = dict(enable=False, base_batch_size=32)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.2e-4, betas=(0.9, 0.999), weight_decay=0.01,
                   fused=True),  # fused: one kernel, the same update (configs/README.md)
    paramwise_cfg=dict(custom_keys={
        'norm': dict(decay_mult=0.),
        # mmhad names EMO's official DW-conv norm 'conv_local.norm' as 'conv_local.bn'
        'conv_local.bn': dict(decay_mult=0.)}))
# PolyLR decays over end - begin - 1 steps: end=80001 gives mmcv's (1 - i / 80000) ** 0.9
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=80001, by_epoch=False)
]
