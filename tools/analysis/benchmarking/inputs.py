"""Synthetic batches (``inputs`` + ``data_samples``) for mmdet / mmseg / mmpretrain models.

What a model's ``data_preprocessor``, ``test_step`` and ``train_step`` expect, with random
uint8 images and random labels: boxes (and masks for mask heads) for mmdet, a semantic
map for mmseg, a class label for mmpretrain.
"""


def synthetic_batch(scope, model_cfg, h, w, batch_size, train):
    """A batch of ``batch_size`` random ``h x w`` images for a model of ``scope``
    (``'mmdet'``, ``'mmseg'`` or ``'mmpretrain'``); ``train`` adds ground truth."""
    import torch
    inputs = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8)
              for _ in range(batch_size)]
    samples = []
    for _ in range(batch_size):
        meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                    scale_factor=(1.0, 1.0), flip=False, flip_direction=None)
        if scope == 'mmdet':
            sample = _det_sample(model_cfg, meta, h, w, train)
        elif scope == 'mmseg':
            from mmengine.structures import PixelData
            from mmseg.structures import SegDataSample
            sample = SegDataSample(metainfo=meta)
            num_classes = model_cfg.get('decode_head', {}).get('num_classes', 150)
            sample.gt_sem_seg = PixelData(
                data=torch.randint(0, num_classes, (1, h, w), dtype=torch.long))
        elif scope == 'mmpretrain':
            from mmpretrain.structures import DataSample
            sample = DataSample(metainfo=meta)
            num_classes = model_cfg.get('head', {}).get('num_classes', 1000)
            sample.set_gt_label(int(torch.randint(0, num_classes, ()).item()))
        else:
            raise ValueError(f'unsupported default_scope {scope!r}')
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _det_sample(model_cfg, meta, h, w, train):
    import torch
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    sample = DetDataSample(metainfo=meta)
    if not train:
        return sample
    from mmdet.structures.bbox import HorizontalBoxes
    head = model_cfg.get('bbox_head') or model_cfg.get('roi_head', {}).get('bbox_head', {})
    num_classes = head.get('num_classes', 80) if isinstance(head, dict) else 80
    n = 3
    xy = torch.rand(n, 2) * torch.tensor([w * 0.6, h * 0.6])
    wh = torch.rand(n, 2) * torch.tensor([w * 0.3, h * 0.3]) + 8
    gt = InstanceData()
    gt.bboxes = HorizontalBoxes(torch.cat([xy, xy + wh], dim=1))
    gt.labels = torch.randint(0, num_classes, (n, ))
    roi = model_cfg.get('roi_head') or {}
    if isinstance(roi, dict) and roi.get('mask_head'):
        import numpy as np
        from mmdet.structures.mask import BitmapMasks
        masks = np.zeros((n, h, w), dtype=np.uint8)
        for i, (x1, y1, x2, y2) in enumerate(gt.bboxes.tensor.int().tolist()):
            masks[i, y1:y2, x1:x2] = 1
        gt.masks = BitmapMasks(masks, h, w)
    sample.gt_instances = gt
    sample.ignored_instances = InstanceData(
        bboxes=HorizontalBoxes(torch.zeros(0, 4)), labels=torch.zeros(0, dtype=torch.long))
    return sample
