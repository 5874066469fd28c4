"""convzoo: assemble convolutional networks from interchangeable registered blocks.

    import convzoo as cz
    model = cz.build("lenet5_modern", swap={"act": "relu"})
    print(cz.summary("lenet5_modern"))

Importing convzoo is cheap: it imports no torch. The public names below are
imported on their first use (``convzoo.lazy``), and the built-in blocks are
registered first, so that ``cz.register`` and ``cz.list_blocks`` see them as
before. The registry itself also imports the built-in blocks, then the plugins
(entry-point group ``convzoo.blocks``), before its first lookup, so code that
uses ``convzoo.registry`` or ``convzoo.assemble`` directly sees them too. That is
what keeps ``convzoo --help`` free of torch and ``convzoo list`` free of
Lightning. Training and evaluation live in the subpackages ``convzoo.train`` and
``convzoo.evaluate``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from convzoo import plugins, registry
from convzoo.errors import ConvzooError
from convzoo.lazy import lazy_exports
from convzoo.version import VERSION

if TYPE_CHECKING:
    from convzoo import blocks
    from convzoo.archs import arch_names, list_archs
    from convzoo.assemble import ConvNet, apply_swaps, build, spec_of, trace
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
    from convzoo.train.checkpoint import load

__version__ = VERSION

_EXPORTS = {
    "FAMILIES": "convzoo.registry",
    "REGISTRY": "convzoo.registry",
    "BlockInfo": "convzoo.registry",
    "ConvNet": "convzoo.assemble",
    "Registry": "convzoo.registry",
    "RegistryError": "convzoo.registry",
    "Spec": "convzoo.spec",
    "SpecError": "convzoo.spec",
    "Summary": "convzoo.summary",
    "apply_swaps": "convzoo.assemble",
    "arch_names": "convzoo.archs",
    "blocks": "convzoo.blocks",
    "build": "convzoo.assemble",
    "get_block": "convzoo.registry",
    "list_archs": "convzoo.archs",
    "list_blocks": "convzoo.registry",
    "load": "convzoo.train.checkpoint",
    "load_spec": "convzoo.spec",
    "register": "convzoo.registry",
    "spec_of": "convzoo.assemble",
    "summary": "convzoo.summary",
    "trace": "convzoo.assemble",
}


def _builtin_blocks(*_: object) -> None:
    """Register the built-in blocks (importing ``convzoo.blocks`` does); a registry loader."""
    importlib.import_module("convzoo.blocks")


def _builtin_datasets() -> None:
    """Register the built-in datasets before a plugin may add its own beside them."""
    importlib.import_module("convzoo.data")


registry.REGISTRY.add_loader(_builtin_blocks)
plugins.install(registry.REGISTRY, before=_builtin_datasets)
lazy_exports(__name__, _EXPORTS, submodules=("blocks",), before=_builtin_blocks)

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
