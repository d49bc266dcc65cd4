"""Write mmhad's small, seeded demo dataset (COCO detection/instances + ADE20K layout).

Scenes are a few kinds of shapes (circle, square, triangle, star) with random colours,
sizes and rotations on textured, gradient backgrounds; several objects per image, some
overlapping (annotations describe the visible part). The same scenes are written as
    <out>/coco/annotations/instances_{train,val}.json + <out>/coco/{train,val}/*.jpg
    <out>/ADEChallengeData2016/images/{training,validation}/*.jpg
    <out>/ADEChallengeData2016/annotations/{training,validation}/*.png
ADE label maps follow ADE20K's convention (0 = "other", ignored with reduce_zero_label;
1 = background, 2.. = the shape classes), so mmseg's ADE20KDataset reads them as is.

    python tools/misc/make_demo_data.py --out data/demo   (or ensure_demo_data())
"""
import json
import os
import os.path as osp
import sys

import numpy as np

CLASSES = ('circle', 'square', 'triangle', 'star')
SEG_CLASSES = ('background', ) + CLASSES
PALETTE = [(120, 120, 120), (220, 20, 60), (0, 128, 255), (255, 200, 0), (60, 180, 75)]
DEFAULTS = dict(num_train=480, num_val=80, size=256, seed=0)


def _background(rng, size):
    """Smooth colour gradient + band-limited noise + a few distractor lines."""
    import cv2
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    c0, c1, c2 = (rng.uniform(0, 255, 3) for _ in range(3))
    img = (c0 * (1 - xx[..., None]) + c1 * xx[..., None]) * 0.5 + c2 * yy[..., None] * 0.5
    noise = rng.normal(0, 1, (size // 8, size // 8, 3)).astype(np.float32)
    noise = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
    img = img + noise * rng.uniform(8, 30)
    for _ in range(rng.integers(0, 6)):
        p1 = tuple(int(v) for v in rng.integers(0, size, 2))
        p2 = tuple(int(v) for v in rng.integers(0, size, 2))
        cv2.line(img, p1, p2, tuple(float(v) for v in rng.uniform(0, 255, 3)),
                 int(rng.integers(1, 4)))
    return np.clip(img, 0, 255)


def _shape_polygon(rng, kind, cx, cy, r):
    angle = rng.uniform(0, 2 * np.pi)
    if kind == 'circle':
        n, radii = 48, np.full(48, r)
    elif kind == 'square':
        n, radii = 4, np.full(4, r)
    elif kind == 'triangle':
        n, radii = 3, np.full(3, r)
    else:  # star
        n, radii = 10, np.where(np.arange(10) % 2 == 0, r, r * 0.45)
    theta = angle + np.arange(n) * 2 * np.pi / n
    return np.stack([cx + radii * np.cos(theta), cy + radii * np.sin(theta)], 1)


def make_scene(rng, size):
    """Return (BGR image uint8, instance id map int32, list of class indices)."""
    import cv2
    img = _background(rng, size)
    inst = np.zeros((size, size), np.int32)
    labels = []
    for _ in range(int(rng.integers(2, 7))):
        kind = int(rng.integers(len(CLASSES)))
        r = rng.uniform(0.06, 0.28) * size
        cx, cy = rng.uniform(r * 0.5, size - r * 0.5, 2)
        poly = np.round(_shape_polygon(rng, CLASSES[kind], cx, cy, r)).astype(np.int32)
        mask = np.zeros((size, size), np.uint8)
        cv2.fillPoly(mask, [poly], 1)
        colour = rng.uniform(0, 255, 3)
        shade = rng.uniform(0.6, 1.0, (size, size, 1))  # light falloff = texture
        img = np.where(mask[..., None] > 0, colour * shade, img)
        inst[mask > 0] = len(labels) + 1  # later shapes occlude earlier ones
        labels.append(kind)
    img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
    return img, inst, labels


def _coco_annotations(inst, labels, image_id, next_ann_id, min_area):
    from pycocotools import mask as mask_utils
    anns = []
    for idx, label in enumerate(labels, start=1):
        mask = np.asfortranarray((inst == idx).astype(np.uint8))
        area = int(mask.sum())
        if area < min_area:  # fully or almost fully occluded
            continue
        rle = mask_utils.encode(mask)
        x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))
        rle['counts'] = rle['counts'].decode('ascii')
        anns.append(dict(id=next_ann_id + len(anns), image_id=image_id,
                         category_id=label + 1, bbox=[x, y, w, h], area=area,
                         segmentation=rle, iscrowd=0))
    return anns


def write_split(out, split, num, size, rng, progress=True):
    import cv2
    coco_split = 'train' if split == 'train' else 'val'
    ade_split = 'training' if split == 'train' else 'validation'
    img_dir = osp.join(out, 'coco', coco_split)
    ade_img = osp.join(out, 'ADEChallengeData2016', 'images', ade_split)
    ade_ann = osp.join(out, 'ADEChallengeData2016', 'annotations', ade_split)
    for d in (img_dir, ade_img, ade_ann, osp.join(out, 'coco', 'annotations')):
        os.makedirs(d, exist_ok=True)
    images, annotations = [], []
    bar = _progress(num, f'{split:5s}') if progress else None
    for i in range(num):
        img, inst, labels = make_scene(rng, size)
        name = f'{coco_split}_{i:05d}'
        cv2.imwrite(osp.join(img_dir, name + '.jpg'), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(osp.join(ade_img, name + '.jpg'), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        seg = np.ones((size, size), np.uint8)  # 1 = background (0 is ADE's "other")
        for idx, label in enumerate(labels, start=1):
            seg[inst == idx] = label + 2
        cv2.imwrite(osp.join(ade_ann, name + '.png'), seg)
        images.append(dict(id=i + 1, file_name=name + '.jpg', width=size, height=size))
        annotations += _coco_annotations(inst, labels, i + 1, len(annotations) + 1,
                                         min_area=max(16, size * size // 4000))
        if bar:
            bar.update()
    if bar:
        sys.stdout.write('\n')
    categories = [dict(id=i + 1, name=c, supercategory='shape')
                  for i, c in enumerate(CLASSES)]
    with open(osp.join(out, 'coco', 'annotations', f'instances_{coco_split}.json'),
              'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return len(annotations)


def _progress(total, desc):
    from mmengine.utils import ProgressBar
    print(f'writing {total} {desc.strip()} scenes')
    return ProgressBar(total)


def make_demo_data(out, num_train=DEFAULTS['num_train'], num_val=DEFAULTS['num_val'],
                   size=DEFAULTS['size'], seed=DEFAULTS['seed'], progress=True):
    """Write the dataset (deterministic for a given seed); return annotation counts."""
    rng = np.random.default_rng(seed)
    n_train = write_split(out, 'train', num_train, size, rng, progress)
    n_val = write_split(out, 'val', num_val, size, rng, progress)
    with open(osp.join(out, 'DONE'), 'w') as f:
        json.dump(dict(num_train=num_train, num_val=num_val, size=size, seed=seed), f)
    return n_train, n_val


def ensure_demo_data(out, progress=True, **kwargs):
    """Generate the demo data once; a later call with the same settings is a no-op."""
    unknown = set(kwargs) - set(DEFAULTS)
    if unknown:
        raise TypeError(f'demo_data: unknown settings {sorted(unknown)}; valid: '
                        f'out, {", ".join(DEFAULTS)}')
    settings = dict(DEFAULTS, **kwargs)
    done = osp.join(out, 'DONE')
    if osp.isfile(done):
        with open(done) as f:
            if json.load(f) == settings:
                return
    make_demo_data(out, progress=progress, **settings)
