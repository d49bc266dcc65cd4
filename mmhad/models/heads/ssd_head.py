"""SSDHead that can predict under mmdet 3.3.0.

mmdet 3.3.0's ``SSDHead.__init__`` skips ``AnchorHead.__init__`` and never sets
``self.loss_cls``, but ``BaseDenseHead._predict_by_feat_single`` reads
``self.loss_cls.custom_cls_channels``: every SSD/SSDLite validation or test raises
``AttributeError: 'SSDHead' object has no attribute 'loss_cls'`` (open upstream issues
open-mmlab/mmdetection#11780 and #11305; fix PR #11524 unmerged).

``SSDHeadWithPredict`` sets ``loss_cls = None`` *only when the parent did not set one*,
so the prediction code takes its softmax branch (SSD classifies with softmax over
``num_classes + 1``, ``use_sigmoid_cls`` is False), exactly what the upstream fix does.
Once upstream sets ``loss_cls`` itself this subclass changes nothing. Our SSDLite configs
name it explicitly (``bbox_head=dict(type='SSDHeadWithPredict', ...)``).
"""
from mmdet.models.dense_heads import SSDHead

from mmhad.registry import MODELS


@MODELS.register_module()
class SSDHeadWithPredict(SSDHead):
    """``mmdet.models.SSDHead`` plus the missing ``loss_cls`` attribute (see module doc)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not hasattr(self, 'loss_cls'):
            # No loss module: SSD's loss is computed in loss_by_feat_single with
            # F.cross_entropy + hard negative mining; predict only reads attributes.
            self.loss_cls = None
