# The flagship command's config (`python tools/train.py configs/emo/ssdlite_emo5m_coco.py`),
# kept under this path: SSDLite-EMO-5M, 320x320 COCO, the official recipe
# (EMO paper Table 8: 6.0 M params, 1.8 G FLOPs, 27.9 mAP). Everything lives in
_base_ = './ssdlite_emo-5m_8xb24-120e_coco.py'
