# EMO-6M on ImageNet-1k: the official recipe (../_base_/emo_8xb256-300e_in1k.py), official
# run zhangzjn/EMO resources/EMO_6M/log_train.txt (paper Tab. 6).
_base_ = '../_base_/emo_8xb256-300e_in1k.py'

model = dict(
    backbone=dict(arch='6m', drop_path_rate=0.05),
    head=dict(in_channels=320))
