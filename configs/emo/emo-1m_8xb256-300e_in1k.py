# EMO-1M on ImageNet-1k: the official recipe (../_base_/emo_8xb256-300e_in1k.py), official
# run zhangzjn/EMO resources/EMO_1M/log_train.txt (paper Tab. 6).
_base_ = '../_base_/emo_8xb256-300e_in1k.py'

model = dict(
    backbone=dict(arch='1m', drop_path_rate=0.04036),
    head=dict(in_channels=168))
