"""Whole-model ONNX export of mmdet / mmseg / mmpretrain models, checked with onnxruntime.

What is exported (one graph, batch 1, the spatial size fixed when it is traced):

* **single-stage detectors** (SSD / SSDLite, RetinaNet and other ``BaseDenseHead`` heads
  with a ``DeltaXYWHBBoxCoder``): input -> backbone, neck, head -> per level the
  ``nms_pre`` best (anchor, class) scores (sigmoid, or softmax without the background
  column), box decoding (mmdet's own ``delta2bbox``, clipped to the resized image),
  ``min_bbox_size``, ONNX ``NonMaxSuppression`` per class (``score_thr``,
  ``nms.iou_threshold``), the ``max_per_img`` best -> ``dets`` (1, K, 5: x1, y1, x2, y2
  in *input* pixels, score) and ``labels`` (1, K); the raw head maps follow as
  ``cls_score0..`` / ``bbox_pred0..``;
* **segmentors** (mmseg ``EncoderDecoder``, ``test_cfg.mode='whole'``: DeepLabv3, PSPNet,
  Semantic FPN, ...): ``seg_logits`` (1, C, H, W), the decode head's logits resized to the
  input as ``encode_decode`` does, and ``seg_map`` (1, H, W) their argmax;
* **classifiers** (mmpretrain ``ImageClassifier`` with a single-label ``ClsHead``):
  ``cls_score`` (1, num_classes) logits and ``pred_score`` their softmax.

Pre-processing (not in the graph, the same for PyTorch and onnxruntime): the config's test
pipeline (``LoadImageFromFile``, ``Resize``..., ``Pack*Inputs``) and the model's
``data_preprocessor`` (``bgr_to_rgb``, ``(x - mean) / std``, padding to its size divisor),
i.e. exactly what ``test_step`` feeds the network. Post-processing (not in the graph):
detection boxes are divided by the pipeline's ``scale_factor`` (``w_scale, h_scale``) to
get back to the original image, as mmdet's ``rescale=True`` does; segmentation logits go
through mmseg's own ``postprocess_result`` (crop the padding, bilinear resize to the
original image, argmax).

Two-stage detectors (Mask R-CNN, Faster R-CNN: RoIAlign and a second NMS) are not covered.
"""
import copy
import json
import os
import os.path as osp
import warnings

import numpy as np
import torch
from torch import nn

OPSET = 17
SUPPORTED_TEXT = ('single-stage detectors (SSD/SSDLite, RetinaNet), mmseg EncoderDecoder '
                  'segmentors (DeepLabv3, PSPNet, Semantic FPN) and mmpretrain '
                  'ImageClassifier classifiers')


class UnsupportedModelError(ValueError):
    """The model (or one of its settings) is outside what the whole-model export covers."""


# --------------------------------------------------------------------------- building
def build_whole_model(config, checkpoint=None, cfg_options=None):
    """``(cfg, model, task)`` of ``config`` (file or ``pkg::path``), in eval mode.

    ``task`` is ``'det'``, ``'seg'`` or ``'cls'``. Without ``checkpoint`` the weights are
    the model's own initialisation (no pretrained download: ``init_cfg`` is stripped).
    A checkpoint whose keys do not fit is refused (``CheckpointError`` naming the keys).
    """
    import mmhad  # noqa: F401  (registers the mmhad modules)
    from mmhad.utils.compat import apply_runtime_patches
    from mmhad.utils.config_model import build_model, load_config, strip_init_cfg
    apply_runtime_patches()
    cfg = load_config(config, cfg_options)  # file or pkg::path; sets its default scope
    if cfg.get('model') is None:
        raise UnsupportedModelError(f'{config} has no model to export.')
    scope = cfg.get('default_scope') or 'mmdet'
    cfg.default_scope = scope
    strip_init_cfg(cfg.model)  # no pretrained downloads; the checkpoint gives weights
    if cfg.get('data_preprocessor') and not cfg.model.get('data_preprocessor'):
        # mmpretrain configs keep it at the top level; build_model copies it into the
        # model as the Runner does, and the pre-processing report reads it from here
        cfg.model.data_preprocessor = copy.deepcopy(cfg.data_preprocessor)
    head = cfg.model.get('bbox_head')
    if isinstance(head, dict) and head.get('type') == 'SSDHead':
        head['type'] = 'SSDHeadWithPredict'  # mmdet 3.3's SSDHead cannot predict
    model = build_model(cfg)
    if checkpoint:
        load_whole_checkpoint(model, checkpoint)
    model.eval()
    model.cfg = cfg
    return cfg, model, task_of(model, config)


def load_whole_checkpoint(model, path):
    """Load an mmengine checkpoint of the whole model, checked key by key."""
    from mmhad.utils.checkpoint import (check_state_dict_matches, extract_state_dict,
                                        load_checkpoint_file)
    checkpoint = load_checkpoint_file(path)
    state = extract_state_dict(checkpoint)
    check_state_dict_matches(model, state)
    model.load_state_dict(state)
    meta = (checkpoint.get('meta') if isinstance(checkpoint, dict) else None) or {}
    if meta.get('dataset_meta'):
        model.dataset_meta = meta['dataset_meta']


def task_of(model, name='model'):
    """``'det'``, ``'seg'`` or ``'cls'``; ``UnsupportedModelError`` with the reason else."""
    try:
        from mmdet.models.detectors import SingleStageDetector, TwoStageDetector
    except ImportError:  # pragma: no cover
        SingleStageDetector = TwoStageDetector = ()
    try:
        from mmseg.models.segmentors import EncoderDecoder
    except ImportError:  # pragma: no cover
        EncoderDecoder = ()
    try:
        from mmpretrain.models.classifiers import ImageClassifier
    except ImportError:  # pragma: no cover
        ImageClassifier = ()
    kind = type(model).__name__
    if TwoStageDetector and isinstance(model, TwoStageDetector):
        raise UnsupportedModelError(
            f'{name}: {kind} is a two-stage detector (RPN + RoI head, RoIAlign, two NMS '
            'passes); --whole-model covers ' + SUPPORTED_TEXT + '. Export its backbone '
            'instead (drop --whole-model).')
    if SingleStageDetector and isinstance(model, SingleStageDetector):
        _check_dense_head(model.bbox_head, name)
        return 'det'
    if EncoderDecoder and isinstance(model, EncoderDecoder):
        if type(model) is not EncoderDecoder:
            raise UnsupportedModelError(f'{name}: {kind} (cascade / custom segmentors) is '
                                        'not covered; --whole-model covers ' +
                                        SUPPORTED_TEXT + '.')
        mode = (model.test_cfg or {}).get('mode', 'whole')
        if mode != 'whole':
            raise UnsupportedModelError(
                f"{name}: test_cfg.mode={mode!r}; only mode='whole' is exported (the graph "
                "has one fixed input size). Pass --cfg-options model.test_cfg.mode=whole "
                'to export the whole-image forward.')
        return 'seg'
    if ImageClassifier and isinstance(model, ImageClassifier):
        from mmpretrain.models.heads import ClsHead
        if not isinstance(model.head, ClsHead):
            raise UnsupportedModelError(f'{name}: head {type(model.head).__name__} is not '
                                        'a single-label ClsHead (softmax scores).')
        return 'cls'
    raise UnsupportedModelError(f'{name}: {kind} is not covered; --whole-model covers ' +
                                SUPPORTED_TEXT + '.')


def _check_dense_head(head, name):
    from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
    from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
    kind = type(head).__name__
    problems = []
    if type(head)._predict_by_feat_single is not BaseDenseHead._predict_by_feat_single:
        problems.append('it has its own post-processing (_predict_by_feat_single)')
    if type(getattr(head, 'bbox_coder', None)) is not DeltaXYWHBBoxCoder:
        problems.append(f'box coder {type(getattr(head, "bbox_coder", None)).__name__} '
                        '(only DeltaXYWHBBoxCoder is decoded in the graph)')
    if getattr(getattr(head, 'loss_cls', None), 'custom_cls_channels', False):
        problems.append('its loss has custom class channels')
    cfg = head.test_cfg or {}
    nms = cfg.get('nms') or {}
    if nms.get('type', 'nms') != 'nms':
        problems.append(f"test_cfg.nms.type={nms.get('type')!r} (only 'nms')")
    if problems:
        raise UnsupportedModelError(f'{name}: bbox_head {kind} is not covered: ' +
                                    '; '.join(problems) + '. --whole-model covers ' +
                                    SUPPORTED_TEXT + '.')


# --------------------------------------------------------------------- pre-processing
_GEOMETRIC = ('Resize', 'Crop', 'Pad', 'Flip', 'ResizeEdge', 'RandomResize')


def _type_name(t):
    name = t.get('type', '')
    return (name if isinstance(name, str) else getattr(name, '__name__', str(name))) \
        .split('.')[-1]


def test_pipeline_cfg(cfg):
    """The config's test pipeline (list of dicts), annotations loading dropped and an
    image loader first."""
    pipeline = None
    for key in ('test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset') or {}
        while 'pipeline' not in dataset and 'dataset' in dataset:
            dataset = dataset['dataset']
        if dataset.get('pipeline'):
            pipeline = dataset['pipeline']
            break
    if pipeline is None and cfg.get('test_pipeline'):
        pipeline = cfg.test_pipeline
    if pipeline is None:
        raise UnsupportedModelError('the config has no test pipeline (test_dataloader.'
                                    'dataset.pipeline) to pre-process an image with.')
    pipeline = [dict(copy.deepcopy(t)) for t in pipeline
                if not _type_name(t).startswith('LoadAnnotations')]
    if not pipeline or not _type_name(pipeline[0]).startswith('LoadImage'):
        pipeline.insert(0, dict(type='LoadImageFromFile'))
    return pipeline


def fixed_size_pipeline(pipeline, shape):
    """``pipeline`` with its resizing / cropping / padding replaced by one
    ``Resize(scale=(W, H), keep_ratio=False)`` (what a fixed-size graph needs, as in
    mmdeploy's static configs); returns (pipeline, names of the dropped transforms)."""
    h, w = shape
    out = [pipeline[0], dict(type='Resize', scale=(int(w), int(h)), keep_ratio=False)]
    dropped = []
    for t in pipeline[1:]:
        name = _type_name(t)
        if name.startswith('Pack'):
            out.append(t)
        else:
            dropped.append(name)
    return out, dropped


def _compose(pipeline, scope):
    from mmcv.transforms import Compose
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope(scope):
        return Compose(copy.deepcopy(pipeline))


def _run_pipeline(pipeline, scope, image):
    results = _compose(pipeline, scope)(dict(img_path=image, img_id=0))
    return dict(inputs=[results['inputs']], data_samples=[results['data_samples']])


def prepare_inputs(cfg, model, image, shape=None):
    """Pre-process ``image`` as ``test_step`` would, at ``shape`` if given.

    Returns ``dict(data, inputs, data_samples, pipeline, notes)``: ``data`` is the
    ``test_step`` batch, ``inputs`` the network input (1, 3, H, W) the data preprocessor
    makes of it (the ONNX graph's input), ``pipeline`` the transforms used.
    """
    scope = cfg.get('default_scope')
    pipeline = test_pipeline_cfg(cfg)
    notes = []
    data = _run_pipeline(pipeline, scope, image)
    with torch.no_grad():
        pre = model.data_preprocessor(copy.deepcopy(data), False)
    if shape is not None and tuple(pre['inputs'].shape[-2:]) != tuple(shape):
        natural = tuple(pre['inputs'].shape[-2:])
        pipeline, dropped = fixed_size_pipeline(pipeline, shape)
        notes.append(f'the config\'s test pipeline gives {natural[0]}x{natural[1]} for this '
                     f'image; for the fixed {shape[0]}x{shape[1]} graph it resizes to '
                     f'{shape[0]}x{shape[1]} (keep_ratio=False)' +
                     (f', dropping {", ".join(dropped)}' if dropped else ''))
        data = _run_pipeline(pipeline, scope, image)
        with torch.no_grad():
            pre = model.data_preprocessor(copy.deepcopy(data), False)
        if tuple(pre['inputs'].shape[-2:]) != tuple(shape):
            got = tuple(pre['inputs'].shape[-2:])
            raise ValueError(f'--shape {shape[0]} {shape[1]}: the data preprocessor pads '
                             f'the input to {got[0]}x{got[1]} (its size divisor); pass a '
                             'shape that is a multiple of it.')
    return dict(data=data, inputs=pre['inputs'], data_samples=pre['data_samples'],
                pipeline=pipeline, notes=notes)


def preprocessing_text(cfg, pipeline, model=None):
    """One line per step: the pipeline's transforms, then the data preprocessor."""
    steps = []
    for t in pipeline:
        args = ', '.join(f'{k}={v!r}' for k, v in t.items() if k != 'type')
        steps.append(f'{_type_name(t)}({args})')
    pre = dict(cfg.model.get('data_preprocessor') or {})
    keys = ('mean', 'std', 'bgr_to_rgb', 'rgb_to_bgr', 'to_rgb', 'pad_size_divisor',
            'size_divisor', 'pad_value', 'pad_val')
    args = ', '.join(f'{k}={pre[k]!r}' for k in keys if k in pre)
    name = type(model.data_preprocessor).__name__ if model is not None else \
        str(pre.get('type', 'data_preprocessor')).split('.')[-1]
    steps.append(f'{name}({args})')
    return steps


def synthetic_image(path, shape, seed=0):
    """A deterministic random RGB image of ``shape`` (h, w) written to ``path``."""
    import mmcv
    rng = np.random.RandomState(seed)
    h, w = shape
    # smooth blobs plus noise: not all one colour, so scores and argmaxes vary
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([127 + 100 * np.sin(xx / (7 + 5 * c) + yy / (11 + 3 * c) + c)
                    for c in range(3)], axis=-1)
    img = np.clip(img + rng.randn(h, w, 3) * 20, 0, 255).astype(np.uint8)
    mmcv.imwrite(img, path)
    return path


# ------------------------------------------------------------------------ the graphs
class FixedAdaptiveAvgPool2d(nn.Module):
    """``nn.AdaptiveAvgPool2d`` as two constant averaging matrices, for an input size
    fixed when the graph is traced (same bins as PyTorch: rows ``floor(i * h / oh)`` to
    ``ceil((i + 1) * h / oh)``).

    The ONNX exporter only converts adaptive pooling whose output size divides the input
    size, and only when it can still see that size; PSPNet's pyramid pooling (bins 1, 2,
    3, 6) on a 16x16 map is neither.
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    @staticmethod
    def _matrix(size, out, ref):
        out = size if out is None else int(out)
        m = torch.zeros(out, size, dtype=ref.dtype)
        for i in range(out):
            start, end = (i * size) // out, -((-(i + 1) * size) // out)
            m[i, start:end] = 1.0 / (end - start)
        return m

    def forward(self, x):
        h, w = int(x.shape[-2]), int(x.shape[-1])
        oh, ow = (self.output_size if isinstance(self.output_size, (tuple, list)) else
                  (self.output_size, self.output_size))
        mh, mw = self._matrix(h, oh, x), self._matrix(w, ow, x)
        return torch.matmul(torch.matmul(mh, x), mw.t())


def exportable(model):
    """A copy of ``model`` whose ``nn.AdaptiveAvgPool2d`` layers (other than global
    pooling) are :class:`FixedAdaptiveAvgPool2d`; same outputs up to float rounding."""
    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.AdaptiveAvgPool2d and child.output_size not in (1, (1, 1)):
                setattr(parent, name, FixedAdaptiveAvgPool2d(child.output_size))
    return model


class _NMSOp(torch.autograd.Function):
    """ONNX ``NonMaxSuppression`` (per class), with a PyTorch forward for tracing.

    boxes (1, M, 4) x1y1x2y2, scores (1, C, M) -> selected (K, 3) int64 rows
    ``[batch, class, box]`` of the boxes kept: score > ``score_thr`` and no kept box of
    the same class with a higher score overlapping it by IoU > ``iou_thr``.
    """

    @staticmethod
    def forward(ctx, boxes, scores, max_per_class, iou_thr, score_thr):
        from torchvision.ops import nms
        rows = []
        for c in range(scores.shape[1]):
            s = scores[0, c]
            idx = torch.nonzero(s > score_thr).flatten()
            keep = idx[nms(boxes[0, idx], s[idx], iou_thr)][:max_per_class]
            rows.append(torch.stack([torch.zeros_like(keep), torch.full_like(keep, c),
                                     keep], dim=1))
        return torch.cat(rows) if rows else boxes.new_zeros((0, 3), dtype=torch.long)

    @staticmethod
    def symbolic(g, boxes, scores, max_per_class, iou_thr, score_thr):
        return g.op('NonMaxSuppression', boxes, scores,
                    g.op('Constant', value_t=torch.tensor([max_per_class],
                                                          dtype=torch.long)),
                    g.op('Constant', value_t=torch.tensor([iou_thr], dtype=torch.float)),
                    g.op('Constant', value_t=torch.tensor([score_thr],
                                                          dtype=torch.float)))


class DetectorGraph(nn.Module):
    """Single-stage detector, network + mmdet's dense-head post-processing with ONNX NMS.

    Mirrors ``BaseDenseHead._predict_by_feat_single`` + ``_bbox_post_process`` for one
    image: per level the ``nms_pre`` best (anchor, class) pairs, decoding clipped to the
    input, ``min_bbox_size``, per-class NMS keeping scores > ``score_thr``, the
    ``max_per_img`` best. Boxes stay in input pixels (the rescale is a post-step).
    """

    def __init__(self, model, shape, img_shape=None):
        super().__init__()
        self.model = model
        head = model.bbox_head
        cfg = head.test_cfg
        self.input_shape = tuple(int(s) for s in shape)
        # boxes are clipped to the resized image inside the (padded) input, as mmdet's
        # decode does with img_meta['img_shape']
        self.img_shape = tuple(int(s) for s in (img_shape or shape)[:2])
        with torch.no_grad():
            cls_scores, _ = head(model.extract_feat(torch.zeros(1, 3, *self.input_shape)))
        sizes = [c.shape[-2:] for c in cls_scores]
        priors = head.prior_generator.grid_priors(sizes, dtype=torch.float32,
                                                  device='cpu')
        from mmdet.structures.bbox import get_box_tensor
        self.num_levels = len(priors)
        for i, p in enumerate(priors):
            self.register_buffer(f'priors{i}', get_box_tensor(p).clone(), persistent=False)
        self.num_classes = head.num_classes
        self.use_sigmoid = head.use_sigmoid_cls
        self.cls_out_channels = head.cls_out_channels
        self.nms_pre = int(cfg.get('nms_pre', -1))
        self.score_thr = float(cfg.get('score_thr', 0))
        self.min_bbox_size = cfg.get('min_bbox_size', -1)
        nms = cfg.get('nms') or {}
        self.iou_thr = float(nms.get('iou_threshold', 0.5))
        self.class_agnostic = bool(nms.get('class_agnostic', False))
        self.max_per_img = int(cfg.get('max_per_img', 100))
        coder = head.bbox_coder
        self.coder = dict(means=coder.means, stds=coder.stds,
                          clip_border=coder.clip_border, add_ctr_clamp=coder.add_ctr_clamp,
                          ctr_clamp=coder.ctr_clamp)
        self.level_sizes = [int(p.shape[0]) * self.num_classes for p in priors]

    def output_names(self):
        return (['dets', 'labels'] + [f'cls_score{i}' for i in range(self.num_levels)] +
                [f'bbox_pred{i}' for i in range(self.num_levels)])

    def level_k(self, level):
        n = self.level_sizes[level]
        return n if self.nms_pre <= 0 else min(self.nms_pre, n)

    def forward(self, x):
        from mmdet.models.task_modules.coders.delta_xywh_bbox_coder import delta2bbox
        cls_scores, bbox_preds = self.model.bbox_head(self.model.extract_feat(x))
        all_boxes, all_scores, all_labels = [], [], []
        for i, (cls_score, bbox_pred) in enumerate(zip(cls_scores, bbox_preds)):
            deltas = bbox_pred[0].permute(1, 2, 0).reshape(-1, 4)
            logits = cls_score[0].permute(1, 2, 0).reshape(-1, self.cls_out_channels)
            if self.use_sigmoid:
                scores = logits.sigmoid()
            else:
                scores = logits.softmax(-1)[:, :-1]
            top, idx = scores.reshape(-1).topk(self.level_k(i))
            anchor = torch.div(idx, self.num_classes, rounding_mode='floor')
            all_labels.append(idx - anchor * self.num_classes)
            all_scores.append(top)
            priors = getattr(self, f'priors{i}')[anchor]
            all_boxes.append(delta2bbox(priors, deltas[anchor], max_shape=self.img_shape,
                                        **self.coder))
        boxes = torch.cat(all_boxes)
        scores = torch.cat(all_scores)
        labels = torch.cat(all_labels)
        if self.min_bbox_size is not None and self.min_bbox_size >= 0:
            wh = boxes[:, 2:] - boxes[:, :2]
            valid = (wh > self.min_bbox_size).all(dim=1)
            scores_nms = torch.where(valid, scores, torch.full_like(scores, -1.))
        else:
            scores_nms = scores
        if self.class_agnostic:
            per_class = scores_nms[None, None]
        else:  # one row per class, -1 (never kept) where the candidate is another class
            onehot = labels[None] == torch.arange(self.num_classes)[:, None]
            per_class = torch.where(onehot, scores_nms[None], torch.full_like(
                scores_nms, -1.)[None])[None]
        selected = _NMSOp.apply(boxes[None], per_class, self.max_per_img, self.iou_thr,
                                self.score_thr)
        keep = selected[:, 2]
        order = scores[keep].argsort(descending=True)[:self.max_per_img]
        keep = keep[order]
        dets = torch.cat([boxes[keep], scores[keep, None]], dim=1)
        return (dets[None], labels[keep][None], *cls_scores, *bbox_preds)


class SegmentorGraph(nn.Module):
    """mmseg ``EncoderDecoder.encode_decode`` at a fixed input size, plus the argmax."""

    def __init__(self, model, shape, img_shape=None):
        super().__init__()
        self.model = model
        self.metas = [dict(img_shape=tuple(shape), pad_shape=tuple(shape),
                           ori_shape=tuple(shape))]
        self.threshold = getattr(model.decode_head, 'threshold', 0.3)

    def output_names(self):
        return ['seg_logits', 'seg_map']

    def forward(self, x):
        logits = self.model.encode_decode(x, self.metas)
        if logits.shape[1] > 1:
            return logits, logits.argmax(dim=1)
        return logits, (logits.sigmoid() > self.threshold).long()[:, 0]


class ClassifierGraph(nn.Module):
    """mmpretrain ``ImageClassifier``: logits and the softmax ``ClsHead.predict`` gives."""

    def __init__(self, model, shape=None, img_shape=None):
        super().__init__()
        self.model = model

    def output_names(self):
        return ['cls_score', 'pred_score']

    def forward(self, x):
        cls_score = self.model.head(self.model.extract_feat(x))
        return cls_score, torch.softmax(cls_score, dim=1)


GRAPHS = dict(det=DetectorGraph, seg=SegmentorGraph, cls=ClassifierGraph)


def make_graph(task, model, shape, img_shape=None, deploy=False):
    """The module to export: a copy of ``model`` (its deploy form with ``deploy``; see
    ``mmhad.models.switch_to_deploy``) wrapped for ``task`` at input ``shape``;
    ``img_shape`` is the resized image inside a padded input (detection clips to it)."""
    model = exportable(model)
    if deploy:
        from mmhad.models.deploy import switch_to_deploy
        switch_to_deploy(model)
    return GRAPHS[task](model, tuple(shape), img_shape).eval()
PRIMARY_OUTPUTS = dict(det=['dets', 'labels'], seg=['seg_logits', 'seg_map'],
                       cls=['cls_score', 'pred_score'])


def export_graph(graph, example, out, opset=OPSET):
    """Trace ``graph`` on ``example`` (1, 3, H, W) to ``out``; return the output names."""
    names = graph.output_names()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    graph.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter('ignore')  # TracerWarnings: sizes are static by design
        torch.onnx.export(graph, (example, ), out, input_names=['input'],
                          output_names=names, opset_version=opset, dynamo=False,
                          do_constant_folding=True)
    return names


def ort_session(path, threads=None):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=['CPUExecutionProvider'])


def run_ort(session, x):
    names = [o.name for o in session.get_outputs()]
    values = session.run(None, {'input': x.detach().cpu().numpy().astype(np.float32)})
    return dict(zip(names, values))


def write_sidecar(path, task, cfg, pipeline, shape, names, notes):
    """``<out>.json``: what an application must do around the graph."""
    info = dict(
        task=task, input=dict(name='input', shape=[1, 3, *shape], dtype='float32'),
        outputs=names, primary_outputs=PRIMARY_OUTPUTS[task],
        preprocessing=dict(pipeline=pipeline,
                           data_preprocessor=dict(cfg.model.get('data_preprocessor') or {})),
        postprocessing=dict(
            det='dets[..., :4] /= [w_scale, h_scale, w_scale, h_scale] (the pipeline\'s '
                'scale_factor): boxes in original-image pixels',
            seg='mmseg postprocess_result: crop the padding, bilinear resize of '
                'seg_logits to the original image, argmax',
            cls='none: pred_score is the softmax of cls_score')[task],
        notes=notes)
    with open(path, 'w') as f:
        json.dump(info, f, indent=1, default=str)
    return path


# ---------------------------------------------------------------------- comparisons
def relative_errors(got, expected):
    """``max|got - expected| / max|expected|`` of each pair of arrays."""
    out = []
    for g, e in zip(got, expected):
        g, e = np.asarray(g, np.float64), np.asarray(e, np.float64)
        if g.shape != e.shape:
            raise AssertionError(f'ONNX output shape {g.shape} vs PyTorch {e.shape}')
        out.append(float(np.abs(g - e).max()) / max(float(np.abs(e).max()), 1e-12)
                   if e.size else 0.0)
    return out


def box_iou(a, b):
    """IoU matrix of (N, 4) and (M, 4) x1y1x2y2 arrays (float64)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    union = area_a[:, None] + area_b[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.)


def compare_detections(ref, got, *, iou_thr, score_thr, max_per_img, level_cutoffs=(),
                       class_agnostic=False, box_atol=None, score_atol=1e-4,
                       score_tol=1e-5, iou_tol=1e-4):
    """Compare two NMS results that come from nearly equal raw outputs.

    ``ref`` and ``got`` are dicts of ``bboxes`` (N, 4), ``scores`` (N,), ``labels`` (N,),
    in the same pixels. Detections are paired greedily (same label, every box coordinate
    within ``box_atol``, default 1e-3 of the largest coordinate; score within
    ``score_atol``). A detection left unpaired is *explained* when its keep/drop decision
    had no margin, so that float rounding may flip it:

    * its score is within ``score_tol`` of ``score_thr``, of a level's ``nms_pre``
      cut-off score (``level_cutoffs``) or of the lowest score of a full
      (``max_per_img``) list (ties there are broken by the order of equal scores);
    * it overlaps a same-class detection of at least its score with an IoU within
      ``iou_tol`` of ``iou_thr``, or one of the same score (within ``score_tol``) with
      an IoU above it (which of the two NMS keeps is the order of equal scores); the IoU
      tolerance is widened by what the boxes' rounding can change the IoU
      (mmdet's ``batched_nms`` offsets the boxes of class ``c`` by ``c * (max + 1)``, so
      its IoUs carry the float32 spacing of those coordinates);
    * it overlaps (IoU above the threshold, same tolerance) an explained unpaired
      detection of at least its score: the knock-on effect of a flip.

    Returns a dict with the pairing, the largest differences of the paired detections and
    ``unexplained`` (0 when the two agree up to rounding).
    """
    rb, rs, rl = (np.asarray(ref[k]) for k in ('bboxes', 'scores', 'labels'))
    gb, gs, gl = (np.asarray(got[k]) for k in ('bboxes', 'scores', 'labels'))
    rb, gb = rb.reshape(-1, 4).astype(np.float64), gb.reshape(-1, 4).astype(np.float64)
    rs, gs = rs.astype(np.float64), gs.astype(np.float64)
    extent = max([1.0] + [float(np.abs(b).max()) for b in (rb, gb) if b.size])
    if box_atol is None:
        box_atol = 1e-3 * extent
    pairs, used = [], np.zeros(len(gs), bool)
    for i in np.argsort(-rs, kind='stable'):
        cand = np.where((~used) & (gl == rl[i]) & (np.abs(gs - rs[i]) <= score_atol) &
                        (np.abs(gb - rb[i]).max(axis=1, initial=0) <= box_atol))[0]
        if len(cand):
            j = cand[np.argmin(np.abs(gb[cand] - rb[i]).max(axis=1))]
            used[j] = True
            pairs.append((i, j))
    paired_r = np.zeros(len(rs), bool)
    for i, _ in pairs:
        paired_r[i] = True
    diffs_b = [float(np.abs(rb[i] - gb[j]).max()) for i, j in pairs]
    diffs_s = [float(abs(rs[i] - gs[j])) for i, j in pairs]
    # every detection of both sides, and which are unpaired
    boxes = np.concatenate([rb, gb])
    scores = np.concatenate([rs, gs])
    labels = np.concatenate([rl, gl]).astype(np.int64)
    side = np.array([0] * len(rs) + [1] * len(gs), dtype=np.int64)
    unpaired = np.concatenate([~paired_r, ~used])
    full = [len(rs) >= max_per_img, len(gs) >= max_per_img]
    lowest = [rs.min() if len(rs) else np.inf, gs.min() if len(gs) else np.inf]
    iou = box_iou(boxes, boxes) if len(boxes) else np.zeros((0, 0))
    same = np.ones_like(iou, bool) if class_agnostic else labels[:, None] == labels[None]
    # how far rounding can move an IoU: coordinate error / shortest side, 8 coordinates
    offsets = np.zeros(len(boxes)) if class_agnostic else labels * (extent + 1) + extent
    coord_err = 2 * np.spacing(offsets.astype(np.float32)).astype(np.float64) + \
        max(diffs_b, default=0.0)
    side_len = np.clip(np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]),
                       1e-6, None)
    pair_err = np.maximum(coord_err[:, None], coord_err[None]) * 16 / np.minimum(
        side_len[:, None], side_len[None])
    pair_tol = iou_tol + pair_err
    explained = np.zeros(len(scores), bool)
    for k in np.where(unpaired)[0]:
        s = scores[k]
        if abs(s - score_thr) <= score_tol or any(abs(s - c) <= score_tol
                                                 for c in level_cutoffs):
            explained[k] = True
        elif any(full[o] and s <= lowest[o] + score_tol for o in (0, 1)):
            explained[k] = True
        else:
            near = same[k] & (scores >= s - score_tol) & \
                (np.abs(iou[k] - iou_thr) <= pair_tol[k])
            # an overlapping rival with a tied score: which one NMS keeps is the order
            # of equal scores
            near |= same[k] & (np.abs(scores - s) <= score_tol) & \
                (iou[k] > iou_thr - pair_tol[k])
            near[k] = False
            explained[k] = near.any()
    changed = True
    while changed:  # knock-on effects of an explained flip
        changed = False
        for k in np.where(unpaired & ~explained)[0]:
            hit = (explained & same[k] & (scores >= scores[k] - score_tol) &
                   (iou[k] > iou_thr - pair_tol[k]))
            hit[k] = False
            if hit.any():
                explained[k] = changed = True
    return dict(ref_count=int(len(rs)), got_count=int(len(gs)), paired=len(pairs),
                unpaired_ref=int((~paired_r).sum()), unpaired_got=int((~used).sum()),
                explained=int((unpaired & explained).sum()),
                unexplained=int((unpaired & ~explained).sum()),
                max_box_diff=max(diffs_b, default=0.0),
                max_score_diff=max(diffs_s, default=0.0), box_atol=box_atol,
                unexplained_items=[dict(side=('pytorch', 'onnx')[side[k]],
                                        score=float(scores[k]), label=int(labels[k]),
                                        box=[float(v) for v in boxes[k]])
                                   for k in np.where(unpaired & ~explained)[0]])


def compare_label_maps(ref_logits, got_logits, ref_map, got_map, tol):
    """Pixel agreement of two argmax maps; a disagreeing pixel is explained when the
    reference's two best logits there are within ``tol`` (a tie rounding may break)."""
    ref_map, got_map = np.asarray(ref_map), np.asarray(got_map)
    differ = ref_map != got_map
    if ref_logits.shape[0] > 1:
        top2 = np.sort(np.asarray(ref_logits, np.float64), axis=0)[-2:]
        margin = top2[1] - top2[0]
    else:
        margin = np.full(ref_map.shape, np.inf)
    return dict(pixels=int(ref_map.size), agree=float(1 - differ.mean()),
                differ=int(differ.sum()), unexplained=int((differ & (margin > tol)).sum()))


# ----------------------------------------------------------------------- verification
def _ms(fn):
    import time
    t0 = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t0) * 1e3


def verify(task, model, graph, session, prepared, rtol=1e-4):
    """Run PyTorch's own ``test_step`` on the prepared batch and onnxruntime on the same
    pre-processed tensor; return a report dict (``ok``, numbers, ``lines`` to print)."""
    x = prepared['inputs']
    ort_out = run_ort(session, x)
    with torch.no_grad():
        ref = model.test_step(copy.deepcopy(prepared['data']))[0]
    lines, ok = [], True
    report = dict(task=task)
    if task == 'det':
        with torch.no_grad():
            cls_scores, bbox_preds = model._forward(x)
        raw_ref = [t.numpy() for t in (*cls_scores, *bbox_preds)]
        raw_got = [ort_out[n] for n in graph.output_names()[2:]]
        raw = max(relative_errors(raw_got, raw_ref))
        meta = prepared['data_samples'][0].metainfo
        sx, sy = meta.get('scale_factor', (1., 1.))
        dets, labels = ort_out['dets'][0], ort_out['labels'][0]
        got = dict(bboxes=dets[:, :4] / np.array([sx, sy, sx, sy], np.float32),
                   scores=dets[:, 4], labels=labels)
        pred = ref.pred_instances
        ref_d = dict(bboxes=pred.bboxes.numpy(), scores=pred.scores.numpy(),
                     labels=pred.labels.numpy())
        cutoffs = _level_cutoffs(graph, cls_scores)
        cmp = compare_detections(ref_d, got, iou_thr=graph.iou_thr,
                                 score_thr=graph.score_thr, max_per_img=graph.max_per_img,
                                 level_cutoffs=cutoffs, class_agnostic=graph.class_agnostic)
        report.update(raw_rel_error=raw, detections=cmp)
        lines.append(f'head outputs ({len(raw_ref)} maps): max relative error onnxruntime '
                     f'vs PyTorch = {raw:.3e}')
        lines.append(f'detections after NMS: PyTorch test_step {cmp["ref_count"]}, '
                     f'onnxruntime {cmp["got_count"]}; paired (same label) '
                     f'{cmp["paired"]}; largest box difference {cmp["max_box_diff"]:.3e} px, '
                     f'largest score difference {cmp["max_score_diff"]:.3e}; unpaired '
                     f'{cmp["unpaired_ref"] + cmp["unpaired_got"]} ({cmp["explained"]} at a '
                     f'threshold / cut-off / IoU tie, {cmp["unexplained"]} unexplained)')
        ok = raw <= rtol and cmp['unexplained'] == 0
    elif task == 'seg':
        samples = copy.deepcopy(prepared['data_samples'])
        with torch.no_grad():
            post = model.postprocess_result(torch.from_numpy(ort_out['seg_logits']),
                                            samples)[0]
            ref_logits_in = model.encode_decode(x, [s.metainfo for s in
                                                    prepared['data_samples']])
        raw = relative_errors([ort_out['seg_logits']], [ref_logits_in.numpy()])[0]
        ref_l, got_l = ref.seg_logits.data.numpy(), post.seg_logits.data.numpy()
        post_err = relative_errors([got_l], [ref_l])[0]
        # logits within rtol * scale of each other can only disagree on the argmax where
        # the reference's best two are within twice that: the tie tolerance
        scale = float(np.abs(ref_l).max())
        maps = compare_label_maps(ref_l, got_l, ref.pred_sem_seg.data[0].numpy(),
                                  post.pred_sem_seg.data[0].numpy(), tol=2 * rtol * scale)
        ref_in = ref_logits_in[0].numpy()
        in_graph = compare_label_maps(ref_in, ort_out['seg_logits'][0],
                                      ref_in.argmax(0), ort_out['seg_map'][0],
                                      tol=2 * rtol * float(np.abs(ref_in).max()))
        report.update(raw_rel_error=raw, post_rel_error=post_err, label_map=maps,
                      graph_map=in_graph)
        lines.append(f'seg_logits at the input size: max relative error onnxruntime vs '
                     f'PyTorch = {raw:.3e}; the graph\'s seg_map agrees with PyTorch\'s '
                     f'argmax on {100 * in_graph["agree"]:.4f}% of the pixels')
        lines.append(f'after mmseg postprocess_result (original size {ref_l.shape[1]}x'
                     f'{ref_l.shape[2]}): seg_logits max relative error {post_err:.3e}; '
                     f'label map agreement with PyTorch test_step {100 * maps["agree"]:.4f}% '
                     f'({maps["differ"]} of {maps["pixels"]} pixels differ, '
                     f'{maps["unexplained"]} where the best two logits are not tied)')
        ok = max(raw, post_err) <= rtol and maps['unexplained'] == 0 and \
            in_graph['unexplained'] == 0
    else:
        got = ort_out['pred_score'][0]
        want = ref.pred_score.numpy()
        err = float(np.abs(got - want).max())
        raw = relative_errors([ort_out['cls_score']], [_cls_logits(model, x)])[0]
        top_ref, top_got = int(want.argmax()), int(got.argmax())
        top2 = np.sort(want)[-2:]
        tie = top2[1] - top2[0] <= 2 * rtol  # scores within rtol may swap there
        report.update(raw_rel_error=raw, max_score_diff=err, top1_ref=top_ref,
                      top1_onnx=top_got)
        lines.append(f'cls_score: max relative error onnxruntime vs PyTorch = {raw:.3e}; '
                     f'pred_score (softmax) vs PyTorch test_step: largest difference '
                     f'{err:.3e}; top-1 class PyTorch {top_ref}, onnxruntime {top_got}'
                     + (' (top-2 tied within rounding)' if tie and top_ref != top_got else ''))
        ok = raw <= rtol and (top_ref == top_got or tie)
    report['ok'] = ok
    report['lines'] = lines
    return report


def _cls_logits(model, x):
    with torch.no_grad():
        return model.head(model.extract_feat(x)).numpy()


def _level_cutoffs(graph, cls_scores):
    """Per level, the ``nms_pre``-th best score (where a rounding change could swap a
    candidate in or out)."""
    cutoffs = []
    for i, c in enumerate(cls_scores):
        logits = c[0].permute(1, 2, 0).reshape(-1, graph.cls_out_channels)
        scores = logits.sigmoid() if graph.use_sigmoid else logits.softmax(-1)[:, :-1]
        k = graph.level_k(i)
        if k < scores.numel():
            cutoffs.append(float(scores.reshape(-1).topk(k).values[-1]))
    return cutoffs
