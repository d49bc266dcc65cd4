"""SSDHeadWithPredict predicts where mmdet 3.3.0's SSDHead raises AttributeError."""
import pytest
import torch
from mmdet.models.dense_heads import SSDHead
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from mmhad.models.heads import SSDHeadWithPredict

HEAD = dict(
    num_classes=4, in_channels=(8, 16), use_depthwise=True,
    norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU6'),
    anchor_generator=dict(type='SSDAnchorGenerator', scale_major=False, strides=[16, 32],
                          ratios=[[2, 3], [2, 3]], min_sizes=[16, 32],
                          max_sizes=[32, 64]),
    bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                    target_stds=[0.1, 0.1, 0.2, 0.2]),
    test_cfg=ConfigDict(nms_pre=100, nms=dict(type='nms', iou_threshold=0.45),
                        min_bbox_size=0, score_thr=0.02, max_per_img=10))


@pytest.fixture(autouse=True)
def mmdet_scope():
    """Heads build their anchor generator / coder from the current default scope."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


FEATS = (torch.rand(1, 8, 4, 4), torch.rand(1, 16, 2, 2))
META = [dict(img_shape=(64, 64), pad_shape=(64, 64), scale_factor=(1., 1.),
             ori_shape=(64, 64))]


def test_upstream_ssd_head_cannot_predict():
    head = SSDHead(**HEAD).eval()
    if hasattr(head, 'loss_cls'):
        pytest.skip('mmdet fixed SSDHead upstream; SSDHeadWithPredict is now a no-op')
    with pytest.raises(AttributeError, match='loss_cls'):
        head.predict_by_feat(*head(FEATS), batch_img_metas=META)


def test_fixed_head_predicts_softmax_scores():
    torch.manual_seed(0)
    head = SSDHeadWithPredict(**HEAD).eval()
    with torch.no_grad():
        results = head.predict_by_feat(*head(FEATS), batch_img_metas=META)
    assert isinstance(results[0], InstanceData)
    assert len(results[0]) <= 10
    assert results[0].labels.max() < 4 and (results[0].scores <= 1).all()


def test_fixed_head_keeps_an_existing_loss_cls(monkeypatch):
    """Harmless once upstream sets loss_cls: the subclass must not overwrite it."""
    sentinel = torch.nn.Identity()

    def init_with_loss(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.loss_cls = sentinel

    original_init = SSDHead.__init__
    monkeypatch.setattr(SSDHead, '__init__', init_with_loss)
    assert SSDHeadWithPredict(**HEAD).loss_cls is sentinel


def test_head_loss_still_trains():
    head = SSDHeadWithPredict(**HEAD, train_cfg=ConfigDict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                      min_pos_iou=0., ignore_iof_thr=-1, gt_max_assign_all=False),
        sampler=dict(type='PseudoSampler'), smoothl1_beta=1., allowed_border=-1,
        pos_weight=-1, neg_pos_ratio=3, debug=False))
    gt = InstanceData(bboxes=torch.tensor([[8., 8., 40., 40.]]), labels=torch.tensor([1]))
    losses = head.loss_by_feat(*head(FEATS), [gt], META)
    total = sum(sum(v) for v in losses.values())
    assert torch.isfinite(total) and total > 0


def test_configs_build_the_head_by_name():
    """With full mmcv the registered type is the real head (on mmcv-lite it is a
    placeholder that raises; see tests/test_mmcv_lite.py)."""
    from mmdet.registry import MODELS
    head = MODELS.build(dict(type='SSDHeadWithPredict', **HEAD))
    assert type(head) is SSDHeadWithPredict and isinstance(head, SSDHead)
