"""Demo data: deterministic, valid COCO + ADE20K, and a real COCO evaluation on it."""
import hashlib
import json
import os.path as osp

import numpy as np
import pytest

from mmhad.utils.demo_data import CLASSES, ensure_demo_data, make_demo_data


def _digest(root):
    h = hashlib.sha1()
    for rel in ('coco/annotations/instances_train.json',
                'ADEChallengeData2016/annotations/training/train_00001.png'):
        with open(osp.join(root, rel), 'rb') as f:
            h.update(f.read())
    return h.hexdigest()


@pytest.fixture(scope='module')
def tiny_demo(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo'))
    make_demo_data(root, num_train=6, num_val=3, size=96, seed=3, progress=False)
    return root


def test_demo_data_is_deterministic(tiny_demo, tmp_path):
    make_demo_data(str(tmp_path), num_train=6, num_val=3, size=96, seed=3, progress=False)
    assert _digest(str(tmp_path)) == _digest(tiny_demo)
    other = tmp_path / 'other'
    make_demo_data(str(other), num_train=6, num_val=3, size=96, seed=4, progress=False)
    assert _digest(str(other)) != _digest(tiny_demo)


def test_ensure_demo_data_regenerates_only_when_settings_change(tmp_path):
    root = str(tmp_path)
    ensure_demo_data(root, num_train=2, num_val=1, size=64, progress=False)
    ann = osp.join(root, 'coco/annotations/instances_train.json')
    stamp = osp.getmtime(ann)
    ensure_demo_data(root, num_train=2, num_val=1, size=64, progress=False)
    assert osp.getmtime(ann) == stamp
    ensure_demo_data(root, num_train=3, num_val=1, size=64, progress=False)
    with open(ann) as f:
        assert len(json.load(f)['images']) == 3


def test_coco_annotations_are_valid(tiny_demo):
    from pycocotools.coco import COCO
    coco = COCO(osp.join(tiny_demo, 'coco/annotations/instances_train.json'))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES)
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) >= 6  # at least one object per image, usually several
    for ann in anns:
        mask = coco.annToMask(ann)
        assert mask.sum() == ann['area'] > 0
        ys, xs = np.nonzero(mask)  # the box is the visible mask's extent
        x, y, w, h = ann['bbox']
        assert (xs.min(), ys.min()) == (x, y)
        assert (xs.max() + 1, ys.max() + 1) == (x + w, y + h)


def test_ade_labels_match_coco_instances(tiny_demo):
    import cv2
    from pycocotools.coco import COCO
    coco = COCO(osp.join(tiny_demo, 'coco/annotations/instances_val.json'))
    for img in coco.loadImgs(coco.getImgIds()):
        stem = osp.splitext(img['file_name'])[0]
        seg = cv2.imread(osp.join(tiny_demo, 'ADEChallengeData2016/annotations/validation',
                                  stem + '.png'), cv2.IMREAD_UNCHANGED)
        assert seg.shape == (96, 96) and set(np.unique(seg)) <= set(range(1, 6))
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img['id'])):
            # every visible instance pixel carries its class (category_id + 1) in ADE
            assert (seg[coco.annToMask(ann) > 0] == ann['category_id'] + 1).all()


def test_real_coco_metric_scores_perfect_and_shifted_predictions(tiny_demo):
    """mmdet's CocoMetric + pycocotools on this numpy: 1.0 for GT boxes, less if shifted."""
    import torch
    from mmdet.evaluation import CocoMetric
    from pycocotools.coco import COCO

    ann_file = osp.join(tiny_demo, 'coco/annotations/instances_val.json')
    coco = COCO(ann_file)

    def evaluate(shift):
        metric = CocoMetric(ann_file=ann_file, metric=['bbox', 'segm'])
        metric.dataset_meta = dict(classes=CLASSES)
        for img_id in coco.getImgIds():
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
            boxes = torch.tensor([[a['bbox'][0] + shift, a['bbox'][1], a['bbox'][0] +
                                   a['bbox'][2] + shift, a['bbox'][1] + a['bbox'][3]]
                                  for a in anns])
            masks = torch.from_numpy(np.stack([np.roll(coco.annToMask(a), shift, 1)
                                               for a in anns])).bool()
            pred = dict(bboxes=boxes, scores=torch.ones(len(anns)), masks=masks,
                        labels=torch.tensor([a['category_id'] - 1 for a in anns]))
            metric.process({}, [dict(img_id=img_id, ori_shape=(96, 96), pred_instances=pred)])
        return metric.evaluate(size=len(coco.getImgIds()))

    perfect = evaluate(0)
    assert perfect['coco/bbox_mAP'] == pytest.approx(1.0)
    assert perfect['coco/segm_mAP'] == pytest.approx(1.0)
    shifted = evaluate(6)
    assert 0 <= shifted['coco/bbox_mAP'] < 0.9
