# Mask R-CNN-Hadaptive-Net-S on the generated demo scenes (boxes + instance masks), from
# scratch on a CPU. Inherits the full COCO config and changes only the data, the schedule
# and the number of proposals / sampled RoIs (a CPU budget for 256-px scenes):
#   python tools/train.py configs/demo/mask-rcnn_hadaptive-net-s_demo.py
_base_ = '../hadaptive_net/mask-rcnn_hadaptive-net-s_fpn_8xb4-1x_coco.py'

demo_data = dict(out='data/demo')  # written by tools/train.py on the first run
data_root = 'data/demo/coco/'
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'star'),
    palette=[(220, 20, 60), (0, 128, 255), (255, 200, 0), (60, 180, 75)])

model = dict(
    backbone=dict(init_cfg=None, frozen_stages=-1, norm_eval=False),
    roi_head=dict(bbox_head=dict(num_classes=4), mask_head=dict(num_classes=4)),
    # CPU budget: a 256-px scene holds 2-6 objects, so COCO's 1000 proposals and 512
    # sampled RoIs per image are mostly redundant; RoIAlign (forward + backward) over them
    # took ~40% of a step. 300 proposals and 128 RoIs (up to 32 positives, the same 1:3
    # ratio) cut a step ~2.5x (batch 2, 1 thread, loaded machine: ~7.5 -> ~3 s).
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300),
                   rcnn=dict(sampler=dict(num=128))),
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

max_epochs = 2  # 120 iterations of 4 scenes per epoch: 240 iterations
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
