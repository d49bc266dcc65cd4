"""tools/deployment/export_onnx.py --whole-model: one detector and one segmentor per family
(EMO, EfficientMod, Hadaptive-Net) and a classifier, exported with seeded random weights
at tiny sizes and run in onnxruntime against PyTorch's own ``test_step``.

What is compared can not flip on float rounding: raw outputs (head maps, logits) with a
relative tolerance; detections after NMS by pairing them (same label, close box and
score), an unpaired one being accepted only where its keep/drop decision had no margin
(a score at a threshold or cut-off, an IoU at the NMS threshold, tied rivals), and at
least half of them paired; label maps where the reference's two best logits are not tied.
"""
import copy
import importlib.util
import os.path as osp
import sys

import numpy as np
import pytest
import torch

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
from tools.deployment import whole_model as wm  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    'export_onnx_whole', osp.join(REPO, 'tools/deployment/export_onnx.py'))
export_onnx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(export_onnx)

pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py

SIZE = (128, 128)
DET_OPTIONS = {  # 4 classes keep the heads small
    'ssdlite': {'model.bbox_head.num_classes': 4},
    'retinanet': {'model.bbox_head.num_classes': 4},
}
SEG_OPTIONS = {'model.decode_head.num_classes': 5}


@pytest.fixture(scope='module')
def image(tmp_path_factory):
    """A 96x144 image: resized to 128x128 (anisotropic scale factors to undo)."""
    return wm.synthetic_image(str(tmp_path_factory.mktemp('img') / 'img.png'), (96, 144))


def export_and_verify(config, image, tmp_path, options=None, deploy=False, prepare=None,
                      size=SIZE):
    torch.manual_seed(0)
    cfg, model, task = wm.build_whole_model(osp.join(REPO, config), cfg_options=options)
    if prepare is not None:
        prepare(model)
    prepared = wm.prepare_inputs(cfg, model, image, size)
    size = tuple(prepared['inputs'].shape[-2:])
    assert size == SIZE or prepared['notes'] == []  # no --shape: the config's pipeline
    meta = prepared['data_samples'][0].metainfo
    graph = wm.make_graph(task, model, size, meta.get('img_shape'), deploy=deploy)
    out = str(tmp_path / 'model.onnx')
    wm.export_graph(graph, prepared['inputs'], out)
    report = wm.verify(task, model, graph, wm.ort_session(out), prepared)
    return task, model, graph, out, report


def spread_scores(model):
    """Seeded N(0, 1) logits scale for the classification convs' last layer, so that
    scores spread over (0, 1) instead of saturating (PyTorch's default init through
    four un-normalised convs) and NMS has real decisions to make."""
    gen = torch.Generator().manual_seed(1)
    head = model.bbox_head
    convs = [head.retina_cls] if hasattr(head, 'retina_cls') else \
        [c[-1] if isinstance(c, torch.nn.Sequential) else c for c in head.cls_convs]
    for conv in convs:
        conv = conv.conv if hasattr(conv, 'conv') else conv
        conv.weight.data.copy_(torch.randn(conv.weight.shape, generator=gen) * 0.02)
        conv.bias.data.copy_(torch.randn(conv.bias.shape, generator=gen))


def assert_detections_agree(report):
    assert report['raw_rel_error'] <= 1e-4, report['lines']
    det = report['detections']
    assert det['ref_count'] >= 5, report['lines']  # the check is not vacuous
    assert det['unexplained'] == 0, (report['lines'], det['unexplained_items'])
    assert det['paired'] >= det['ref_count'] // 2, report['lines']
    assert det['max_box_diff'] <= det['box_atol'] and det['max_score_diff'] <= 1e-4
    assert report['ok'], report['lines']


def assert_graph_ops(path, required=(), forbidden=('NonZero', )):
    import onnx
    model = onnx.load(path)
    onnx.checker.check_model(model)
    ops = {n.op_type for n in model.graph.node}
    assert not [n.domain for n in model.graph.node if n.domain not in ('', 'ai.onnx')]
    for op in required:
        assert op in ops, sorted(ops)
    return ops


@pytest.mark.parametrize('config, kind', [
    ('configs/emo/retinanet_emo-1m_fpn_8xb4-1x_coco.py', 'retinanet'),
    ('configs/efficientmod/ssdlite_efficientmod-xxs_8xb24-120e_coco.py', 'ssdlite'),
    ('configs/hadaptive_net/ssdlite_hadaptive-net-s_8xb24-120e_coco.py', 'ssdlite'),
])
def test_detector(config, kind, image, tmp_path):
    task, model, graph, out, report = export_and_verify(
        config, image, tmp_path, DET_OPTIONS[kind], prepare=spread_scores)
    assert task == 'det'
    assert_detections_agree(report)
    assert_graph_ops(out, required=('NonMaxSuppression', 'TopK'))


def test_detector_config_pipeline_with_padding(image, tmp_path):
    """No fixed size: RetinaNet's own keep-ratio Resize (scale shrunk) and padding to 32,
    so the image fills 96x144 of a 96x160 input and boxes are clipped to the image."""
    options = dict(DET_OPTIONS['retinanet'],
                   **{'test_dataloader.dataset.pipeline.1.scale': (160, 96)})
    task, model, graph, out, report = export_and_verify(
        'configs/emo/retinanet_emo-1m_fpn_8xb4-1x_coco.py', image, tmp_path, options,
        prepare=spread_scores, size=None, deploy=True)
    assert (graph.input_shape, graph.img_shape) == ((96, 160), (96, 144))
    assert_detections_agree(report)


@pytest.mark.parametrize('config', [
    'configs/emo/deeplabv3_emo-1m_8xb4-80k_ade20k-512x512.py',
    'configs/efficientmod/fpn_efficientmod-xxs_8xb4-40k_ade20k-512x512.py',
    'configs/hadaptive_net/pspnet_hadaptive-net-s_8xb4-80k_ade20k-512x512.py',
])
def test_segmentor(config, image, tmp_path):
    task, model, graph, out, report = export_and_verify(config, image, tmp_path,
                                                        SEG_OPTIONS)
    assert task == 'seg'
    assert report['raw_rel_error'] <= 1e-4 and report['post_rel_error'] <= 1e-4, \
        report['lines']
    maps = report['label_map']
    assert maps['pixels'] == 96 * 144  # back at the original size
    assert maps['unexplained'] == 0, report['lines']
    assert report['ok'], report['lines']


def test_classifier_cli_deploy_form(tmp_path, capsys):
    """The CLI end to end, positional checkpoint, deploy form: onnxruntime's class
    scores against the training form's test_step."""
    config = osp.join(REPO, 'configs/emo/emo-1m_8xb256-300e_in1k.py')
    torch.manual_seed(0)
    _, model, _ = wm.build_whole_model(config)
    ckpt = tmp_path / 'cls.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    img = wm.synthetic_image(str(tmp_path / 'img.png'), (70, 90))
    out = tmp_path / 'cls.onnx'
    code = export_onnx.main([config, str(ckpt), '--whole-model', '--deploy', '--shape',
                             '64', '64', '--verify', img, '--out', str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert 'deploy form' in text and 'OK: onnxruntime matches' in text, text
    assert 'ClsDataPreprocessor(mean=[123.675, 116.28, 103.53]' in text, text
    assert 'Resize(scale=(64, 64), keep_ratio=False)' in text, text  # fixed-size graph
    assert osp.isfile(tmp_path / 'cls.json')
    import onnxruntime as ort
    session = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    assert [o.name for o in session.get_outputs()] == ['cls_score', 'pred_score']
    assert session.get_inputs()[0].shape == [1, 3, 64, 64]


def test_detector_cli_prints_the_comparison(image, tmp_path, capsys):
    """The CLI on a detector: pre-processing, NMS settings and the comparison printed."""
    out = tmp_path / 'ssd.onnx'
    code = export_onnx.main([
        osp.join(REPO, 'configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py'), '--whole-model',
        '--shape', '96', '96', '--verify', image, '--out', str(out), '--cfg-options',
        'model.bbox_head.num_classes=3'])
    text = capsys.readouterr().out
    assert code == 0, text
    for expected in ('DetDataPreprocessor(mean=', 'bgr_to_rgb=True',
                     'ONNX NonMaxSuppression per class, IoU > 0.45', 'scale_factor',
                     'detections after NMS: PyTorch test_step',
                     'OK: onnxruntime matches'):
        assert expected in text, (expected, text)


def test_compare_detections_explains_only_ties():
    """The pairing tolerates what rounding can flip and nothing else."""
    ref = dict(bboxes=np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50.]]),
               scores=np.array([0.9, 0.8, 0.3]), labels=np.array([0, 1, 1]))
    kw = dict(iou_thr=0.5, score_thr=0.05, max_per_img=100)
    same = wm.compare_detections(ref, copy.deepcopy(ref), **kw)
    assert (same['paired'], same['unexplained']) == (3, 0)
    # a missing detection with a clear margin is a real difference
    got = {k: v[:2] for k, v in ref.items()}
    assert wm.compare_detections(ref, got, **kw)['unexplained'] == 1
    # ... but not when its score sits at the score threshold
    assert wm.compare_detections(ref, got, **dict(kw, score_thr=0.3))['unexplained'] == 0
    # a box kept in one list only, overlapping a kept box at IoU = the NMS threshold
    extra = np.array([[0, 0, 10, 20 / 3]])  # IoU with the first box = 2/3
    got = dict(bboxes=np.concatenate([ref['bboxes'], extra]),
               scores=np.array([0.9, 0.8, 0.3, 0.5]), labels=np.array([0, 1, 1, 0]))
    assert wm.compare_detections(ref, got, **kw)['unexplained'] == 1
    assert wm.compare_detections(ref, got, **dict(kw, iou_thr=2 / 3))['unexplained'] == 0
    # a wrong label is never paired
    got = copy.deepcopy(ref)
    got['labels'] = np.array([0, 1, 2])
    res = wm.compare_detections(ref, got, **kw)
    assert (res['paired'], res['unexplained']) == (2, 2)


def test_unsupported_models_are_refused_clearly(tmp_path, capsys):
    code = export_onnx.main([
        osp.join(REPO, 'configs/hadaptive_net/mask-rcnn_hadaptive-net-s_fpn_8xb4-1x_coco.py'),
        '--whole-model', '--out', str(tmp_path / 'x.onnx')])
    err = capsys.readouterr().err
    assert code == 2 and 'two-stage detector' in err and 'backbone' in err, err
    code = export_onnx.main([
        osp.join(REPO, 'configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py'), '--whole-model',
        '--verify', str(tmp_path / 'missing.jpg'), '--out', str(tmp_path / 'x.onnx')])
    err = capsys.readouterr().err
    assert code == 2 and 'missing.jpg' in err and 'no such image' in err, err
    assert not (tmp_path / 'x.onnx').exists()
    backbone_only = tmp_path / 'backbone.pth'  # a backbone checkpoint for a detector
    torch.save({'state_dict': {'conv.weight': torch.zeros(1)}}, backbone_only)
    code = export_onnx.main([
        osp.join(REPO, 'configs/emo/ssdlite_emo-1m_8xb24-120e_coco.py'), str(backbone_only),
        '--whole-model', '--out', str(tmp_path / 'x.onnx')])
    err = capsys.readouterr().err
    assert code == 2 and 'missing keys' in err and 'unexpected keys' in err, err
    assert not (tmp_path / 'x.onnx').exists()
    with pytest.raises(SystemExit):  # --verify without --whole-model
        export_onnx.main(['--backbone', 'EMO', '--verify', 'x.jpg', '--out', 'x.onnx'])
