# EMO-6M on ImageNet-1k: the recipe of emo-1m_8xb256_in1k.py (paper Sec. 3.1, Tab. 6)
# with drop path 0.05.
_base_ = ['./emo-1m_8xb256_in1k.py']

model = dict(
    backbone=dict(arch='6m', drop_path_rate=0.05),
    head=dict(in_channels=320),
)
