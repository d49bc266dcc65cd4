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

mmdet's models import mmcv's compiled ops (``mmcv.ops`` -> ``mmcv._ext``, via
``mmdet.models.layers.bbox_nms``), which mmcv-lite lacks. There ``import mmhad`` still
works (the backbones need no compiled ops) and ``SSDHeadWithPredict`` stays registered
under its name, but constructing it raises an ImportError that names the missing
``mmcv._ext`` and how to install mmcv with its ops.
"""
from mmhad.registry import MODELS
from mmhad.utils.env import mmcv_ops_problem, require_mmcv_ops

try:
    from mmdet.models.dense_heads import SSDHead
except ImportError:
    if mmcv_ops_problem() is None:
        raise  # a different problem than mmcv-lite: show it as it is
    SSDHead = None

if SSDHead is not None:

    @MODELS.register_module()
    class SSDHeadWithPredict(SSDHead):
        """``mmdet.models.SSDHead`` plus the missing ``loss_cls`` attribute (see module
        doc)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if not hasattr(self, 'loss_cls'):
                # No loss module: SSD's loss is computed in loss_by_feat_single with
                # F.cross_entropy + hard negative mining; predict only reads attributes.
                self.loss_cls = None

else:

    @MODELS.register_module()
    class SSDHeadWithPredict:  # type: ignore[no-redef]
        """Placeholder registered without mmcv's compiled ops (mmcv-lite): building it
        raises an ImportError naming ``mmcv._ext`` and the fix (see module doc)."""

        def __init__(self, *args, **kwargs):
            require_mmcv_ops('SSDHeadWithPredict (mmdet\'s SSD/SSDLite head)')
            raise ImportError('mmdet.models could not be imported although mmcv.ops '
                              'now loads; restart Python after installing mmcv.')
