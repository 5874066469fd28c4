#!/usr/bin/env bash
# CapsNet on MNIST with its recipe, on a GPU: the reproduction that
# benchmarks/results/reproduce/README.md lists (goal: <= 0.35% test error; Sabour,
# Frosst & Hinton 2017 report 0.25%). Each run is one `convzoo train capsnet` with the
# recipe of registry/capsnet.yaml (Adam 0.001 decayed by 0.9905 per epoch at every step,
# batch 128, shifts of up to 2 pixels, 641 epochs = 300,000 steps, all 60,000 training
# images) and nothing else but where the data lies, the seed and where the run goes.
# Precision is convzoo's default on a GPU (bf16-mixed where supported).
#
#   here, once:  benchmarks/reproduce_capsnet_gpu.sh --prepare   (copies MNIST into
#                .gpu-data/mnist, which git ignores; carry [".gpu-data"] to the device)
#   there:       bash benchmarks/reproduce_capsnet_gpu.sh [SEED ...]   (default: 0 1 2)
#
# It runs from the source tree (PYTHONPATH=., convzoo need not be installed) and needs
# torch >= 2.11, lightning, torchmetrics, PyYAML and numpy. `python -m convzoo.cli train`
# also imports jsonargparse (>= 4.40), rich and matplotlib (see pyproject.toml); where any
# of them is missing, the same run goes through convzoo's Python API instead
# (`convzoo.train.config.for_arch`, then `convzoo.train.train`: the same settings, the
# same report). Run directories go to $OUT (default runs/reproduce); copy each
# report.json to benchmarks/results/reproduce/capsnet-seedN.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=. PYTHONUNBUFFERED=1
MNIST=${MNIST:-.gpu-data/mnist}
if [[ ${1:-} == --prepare ]]; then
    mkdir -p "$MNIST"
    cp ../shared/data/mnist/*-ubyte.gz "$MNIST"/
    grep -qx '/.gpu-data/' .git/info/exclude || echo '/.gpu-data/' >>.git/info/exclude
    exit 0
fi
OUT=${OUT:-runs/reproduce}
python -c "import torch, lightning, torchmetrics, yaml, numpy" || {
    echo "torch, lightning, torchmetrics, PyYAML and numpy are needed" >&2
    exit 2
}
API='
import sys

from convzoo.train import train
from convzoo.train.config import for_arch

data_dir, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
flags = {"data_dir": data_dir, "accelerator": "gpu", "seed": seed, "out": out}
report = train(*for_arch("capsnet", {}, flags))
accuracy = 100 * report["test_acc"]
print(f"capsnet seed {seed}: test accuracy {accuracy:.2f}%, report in {out}")
'
SEEDS=("$@")
[[ $# -gt 0 ]] || SEEDS=(0 1 2)
for SEED in "${SEEDS[@]}"; do
    if python -c "import jsonargparse, rich, matplotlib" 2>/dev/null; then
        python -m convzoo.cli train capsnet --data-dir "$MNIST" --accelerator gpu \
            --seed "$SEED" --out "$OUT/capsnet-seed$SEED"
    else
        python -c "$API" "$MNIST" "$SEED" "$OUT/capsnet-seed$SEED"
    fi
done
