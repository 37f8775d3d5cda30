#!/usr/bin/env bash
# Leave-one-category-out for stage 1: train the extractor on every shared category but one, evaluate
# few-shot on the held-out one (K = 1, 2, 4, 8, seeds 0-2). ImageNet numbers come from `make eval`.
# Usage: bench/loco.sh DATA_ROOT OUT_DIR [EPOCHS]
set -euo pipefail
data=$1 out=$2 epochs=${3:-2}
bin=$(dirname "$0")/../.venv/bin
categories=(mtd/magnetic_tile bsdata/ball_screw)
mkdir -p "$out"
for held in "${categories[@]}"; do
  name=$(basename "$held")
  train=()
  for c in "${categories[@]}"; do [ "$c" = "$held" ] || train+=(--data "$data/$c"); done
  "$bin/goldenshot" train-extractor "${train[@]}" --epochs "$epochs" --seed 0 --out "$out/without_$name.safetensors"
  "$bin/goldenshot" eval "$data/$held" --shots 1,2,4,8 --seeds 0,1,2 --backbone mobilenet_v2 \
    --weights "$out/without_$name.safetensors" --json "$out/$name.json"
done
