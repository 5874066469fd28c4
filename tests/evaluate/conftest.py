"""Specs the scan tests share: a net with a linear head, and a tiny conv1x1 net for 12x12 data."""

from __future__ import annotations

LINEAR = {
    "name": "linear",
    "input": [1, 12, 12],
    "classes": 4,
    "layers": [{"filter": "conv", "out": 2, "kernel": 3}, {"act": "relu"}, {"head": "linear"}],
}
SYNTHETIC = {
    "name": "scan_tiny",
    "input": [1, 12, 12],
    "classes": 4,
    "layers": [
        {"filter": "conv", "out": 6, "kernel": 3},
        {"act": "relu"},
        {"pool": "max", "kernel": 2},
        {"head": "conv1x1", "hidden": [16]},
    ],
}
