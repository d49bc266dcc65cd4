# Mask R-CNN-Hadaptive-Net-S on the generated demo scenes (boxes + instance masks), from
# scratch on a CPU. Inherits the full COCO config; INVENTED for the quickstart: besides the
# data and the schedule, the neck and heads are narrowed and normalised as below.
#   python tools/train.py configs/demo/mask-rcnn_hadaptive-net-s_demo.py
_base_ = '../hadaptive_net/mask-rcnn_hadaptive-net-s_fpn_8xb4-1x_coco.py'

demo_data = dict(out='data/demo')  # written by tools/train.py on the first run
data_root = 'data/demo/coco/'
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'star'),
    palette=[(220, 20, 60), (0, 128, 255), (255, 200, 0), (60, 180, 75)])

# From scratch, GroupNorm in the FPN and the mask head, as mmdet's from-scratch Mask R-CNN
# (configs/scratch; He et al., "Rethinking ImageNet Pre-training"): without it AdamW at
# 1e-3 diverged on a fixed batch (RPN box loss 0.07 -> 8.9 in 30 steps; lr 2e-4 was
# stable but too slow for this budget).
gn = dict(type='GN', num_groups=32, requires_grad=True)
# CPU budget: 128 channels in the FPN and every head (COCO: 256), 512-wide box FCs
# (1024), two mask convs (four), 300 proposals (1000) and 64 sampled RoIs per image (512,
# the same 1:3 positive ratio): a 256-px scene holds 2-6 objects; RoIAlign and the mask
# head's backward took most of a step. A step at batch 4 went from ~3.6 s to ~1.5 s (one
# thread).
width = 128
model = dict(
    backbone=dict(init_cfg=None, frozen_stages=-1, norm_eval=False),
    neck=dict(out_channels=width, norm_cfg=gn),
    rpn_head=dict(in_channels=width, feat_channels=width),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=width),
        bbox_head=dict(in_channels=width, fc_out_channels=512, num_classes=4),
        mask_roi_extractor=dict(out_channels=width),
        mask_head=dict(num_convs=2, in_channels=width, conv_out_channels=width,
                       norm_cfg=gn, num_classes=4)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300),
                   rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=300)))

image_size = (256, 256)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

max_epochs = 4  # 120 iterations of 4 scenes per epoch: 480 iterations
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', begin=0, T_max=max_epochs, end=max_epochs,
         by_epoch=True, eta_min=1e-5)
]
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1),
                     logger=dict(interval=5))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False)
