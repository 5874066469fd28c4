#!/usr/bin/env bash
# The CPU reproductions of benchmarks/results/reproduce/README.md, each one
# `convzoo train NAME` with the architecture's recipe and nothing else but where
# the data lies and where the run goes. Usage: benchmarks/reproduce_cpu.sh [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${1:-0}
MNIST=${MNIST:-../shared/data/mnist}
OUT=${OUT:-runs/reproduce}
convzoo=(.venv/bin/convzoo)
"${convzoo[@]}" train mnist1d_cnn --seed "$SEED" --accelerator cpu --out "$OUT/mnist1d_cnn-seed$SEED"
"${convzoo[@]}" train mnist1d_cnn --permute 0 --seed "$SEED" --accelerator cpu \
    --out "$OUT/mnist1d_cnn-perm0-seed$SEED"
"${convzoo[@]}" train lenet5_modern --data-dir "$MNIST" --seed "$SEED" --accelerator cpu \
    --out "$OUT/lenet5_modern-seed$SEED"
"${convzoo[@]}" train lenet5 --data-dir "$MNIST" --seed "$SEED" --accelerator cpu \
    --out "$OUT/lenet5-seed$SEED"
"${convzoo[@]}" train mlp1d --seed "$SEED" --accelerator cpu --out "$OUT/mlp1d-seed$SEED"
"${convzoo[@]}" train mlp1d --permute 0 --seed "$SEED" --accelerator cpu \
    --out "$OUT/mlp1d-perm0-seed$SEED"
