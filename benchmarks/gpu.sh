#!/usr/bin/env bash
# Every GPU figure of the speed work in one run on a lent H100/H200 (torch 2.11,
# lightning 2.6.6, no internet): time to 93% on Fashion-MNIST (convzoo train vs
# a raw loop) and CapsNet's training step (convzoo vs plain PyTorch).
#
#   here, once:  benchmarks/gpu.sh --prepare     (copies Fashion-MNIST into .gpu-data/,
#                                                  which git ignores)
#   there:       bash benchmarks/gpu.sh           (device run, carry [".gpu-data"])
#
# Results go to $OUT when it is set (the device's return folder), else to
# benchmarks/results/gpu/; commit them under benchmarks/results/gpu/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=. PYTHONUNBUFFERED=1
DATA=.gpu-data/fashion-mnist
if [[ ${1:-} == --prepare ]]; then
    mkdir -p "$DATA"
    cp /usr/share/datasets/fashion-mnist/* "$DATA"/
    grep -qx '/.gpu-data/' .git/info/exclude || echo '/.gpu-data/' >>.git/info/exclude
    exit 0
fi
DEST=${OUT:-benchmarks/results/gpu}
mkdir -p "$DEST"
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    python -c "import torch, lightning; print('torch', torch.__version__, 'lightning', lightning.__version__)"
} | tee "$DEST/machine.txt"
python benchmarks/time_to_accuracy.py --device cuda --runs 3 --data-dir "$DATA" \
    --out "$DEST/time_to_accuracy"
python benchmarks/capsnet_step.py --device cuda --out "$DEST/capsnet_step"
