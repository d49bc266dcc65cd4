# DeepLabv3-EMO-1M on the generated demo scenes (ADE20K layout), trained from scratch on a
# CPU. Inherits the full ADE20K config and changes only the data (demo scenes: 5 classes,
# crop 256) and the schedule (short, iteration-based).
#     python tools/train.py configs/demo/deeplabv3_emo1m_demo.py
#     bash tools/dist_train.sh configs/demo/deeplabv3_emo1m_demo.py 2   (CPU: gloo + SyncBN)
_base_ = '../emo/deeplabv3_emo-1m_8xb4-80k_ade20k-512x512.py'

# The generated demo scenes (mmhad/utils/demo_data.py); tools/train.py writes them on the
# first run. Label maps follow ADE20K (0 = "other", dropped by reduce_zero_label), so the
# classes are mmhad.utils.demo_data.SEG_CLASSES. mmseg's ADE20KDataset only accepts
# subsets of the 150 ADE classes, hence BaseSegDataset with ADE's suffixes.
demo_data = dict(out='data/demo')
data_root = 'data/demo/ADEChallengeData2016'
dataset_type = 'BaseSegDataset'
metainfo = dict(
    classes=('background', 'circle', 'square', 'triangle', 'star'),
    palette=[(120, 120, 120), (220, 20, 60), (0, 128, 255), (255, 200, 0),
             (60, 180, 75)])
num_classes = 5
crop_size = (256, 256)
data_preprocessor = dict(size=crop_size)

model = dict(
    data_preprocessor=data_preprocessor,
    # no ImageNet weights offline: train from scratch
    backbone=dict(init_cfg=None),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(1024, 256), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 256), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        data_prefix=dict(img_path='images/validation',
                         seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# schedule: 400 iterations, AdamW at a from-scratch learning rate, poly decay
max_iters = 400
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=40),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
randomness = dict(seed=0)
