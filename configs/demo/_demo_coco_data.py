# The generated demo scenes in COCO format (tools/misc/make_demo_data.py). tools/train.py
# writes them on the first run (`demo_data`), so a fresh machine needs nothing else.
demo_data = dict(out='data/demo')
data_root = 'data/demo/coco/'
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'star'),
    palette=[(220, 20, 60), (0, 128, 255), (255, 200, 0), (60, 180, 75)])
