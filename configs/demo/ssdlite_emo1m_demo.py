# The quickstart (`make demo`): SSDLite-EMO-1M trained from scratch on the generated demo
# scenes on a CPU in minutes, evaluated with the real COCO bbox metric. Inherits the
# full COCO config and changes only the data and the schedule.
_base_ = '../emo/ssdlite_emo-1m_8xb24-120e_coco.py'

# The generated demo scenes (mmhad/utils/demo_data.py); tools/train.py writes them on the
# first run, so a fresh machine needs nothing else.
demo_data = dict(out='data/demo')
data_root = 'data/demo/coco/'
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'star'),
    palette=[(220, 20, 60), (0, 128, 255), (255, 200, 0), (60, 180, 75)])

model = dict(
    # no ImageNet weights offline: train from scratch, so BN must learn its statistics
    backbone=dict(init_cfg=None, norm_eval=False),
    bbox_head=dict(num_classes=4))

# the scenes are 256x256: train at their size (SSDLite's anchors still cover it)
input_size = 256
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(
        times=1,
        dataset=dict(
            data_root=data_root,
            metainfo=metainfo,
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img='train/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=4),
            pipeline=train_pipeline)))
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

# ~9 minutes on 2 idle CPU cores (0.73 s per batch of 8)
max_epochs = 36
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=3e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', begin=0, T_max=max_epochs, end=max_epochs,
         by_epoch=True, eta_min=1e-5)
]
default_hooks = dict(
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1),
    logger=dict(interval=20))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False)
