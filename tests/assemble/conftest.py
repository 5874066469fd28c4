"""Helpers the assemble tests share: a one-off spec around some layers."""

from __future__ import annotations


def net(*layers, input=(1, 12, 12), classes=None):
    data = {"name": "t", "input": list(input), "layers": list(layers)}
    if classes is not None:
        data["classes"] = classes
    return data
