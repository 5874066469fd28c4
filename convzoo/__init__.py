"""convzoo: assemble convolutional networks from interchangeable registered blocks.

    import convzoo as cz
    model = cz.build("lenet5_modern", swap={"act": "relu"})
    print(cz.summary("lenet5_modern"))

Importing convzoo registers the built-in blocks; plugins (entry-point group
``convzoo.blocks``) load on the registry's first lookup. ``load``, which needs
Lightning's checkpoint format, is imported on first use, so that building and
summarizing networks stays quick to import. Training and evaluation live in the
subpackages ``convzoo.train`` and ``convzoo.evaluate``.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any

from convzoo import blocks, plugins
from convzoo.archs import arch_names, list_archs
from convzoo.assemble import ConvNet, apply_swaps, build, spec_of, trace
from convzoo.errors import ConvzooError
from convzoo.registry import (
    FAMILIES,
    REGISTRY,
    BlockInfo,
    Registry,
    RegistryError,
    get_block,
    list_blocks,
    register,
)
from convzoo.spec import Spec, SpecError, load_spec
from convzoo.summary import Summary, summary

try:
    __version__ = metadata.version("convzoo")
except metadata.PackageNotFoundError:  # a source tree on PYTHONPATH, not installed
    __version__ = "0+unknown"

_LAZY = {"load": "convzoo.train.checkpoint"}

plugins.install(REGISTRY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'convzoo' has no attribute {name!r}")


__all__ = [
    "FAMILIES",
    "REGISTRY",
    "BlockInfo",
    "ConvNet",
    "ConvzooError",
    "Registry",
    "RegistryError",
    "Spec",
    "SpecError",
    "Summary",
    "__version__",
    "apply_swaps",
    "arch_names",
    "blocks",
    "build",
    "get_block",
    "list_archs",
    "list_blocks",
    "load",
    "load_spec",
    "register",
    "spec_of",
    "summary",
    "trace",
]
