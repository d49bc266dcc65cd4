# The two commands of the README. Both start with the same idempotent install.
PYTHON ?= python3
export PYTHON
DEMO_CONFIG ?= configs/demo/ssdlite_emo1m_demo.py
DEMO_WORK_DIR ?= work_dirs/demo_ssdlite_emo1m
PYTEST_ARGS ?=

.PHONY: install demo test

install:
	bash tools/install.sh

# Fresh machine -> demo data -> SSDLite-EMO-1M trained and evaluated (COCO mAP) on CPU
# -> a picture of its predictions in $(DEMO_WORK_DIR)/demo_prediction.png
demo: install
	$(PYTHON) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR)
	$(PYTHON) tools/demo/image_demo.py $(DEMO_CONFIG) \
		$$(cat $(DEMO_WORK_DIR)/last_checkpoint) data/demo/coco/val/val_00000.jpg \
		--out $(DEMO_WORK_DIR)/demo_prediction.png

test: install
	$(PYTHON) -m pytest $(PYTEST_ARGS)
