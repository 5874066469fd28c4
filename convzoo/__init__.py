"""convzoo: assemble convolutional networks from interchangeable registered blocks.

    import convzoo as cz
    model = cz.build("lenet5_modern", swap={"act": "relu"})
    print(cz.summary("lenet5_modern"))

Importing convzoo registers the built-in blocks; plugins (entry-point group
``convzoo.blocks``) load on the registry's first lookup.
"""

from convzoo import blocks, plugins
from convzoo.archs import arch_names, list_archs
from convzoo.assemble import ConvNet, apply_swaps, build, spec_of, trace
from convzoo.registry import (
    FAMILIES,
    REGISTRY,
    BlockInfo,
    ConvzooError,
    Registry,
    RegistryError,
    get_block,
    list_blocks,
    register,
)
from convzoo.spec import Spec, SpecError, load_spec
from convzoo.summary import Summary, summary

__version__ = "0.1.0"

plugins.install(REGISTRY)

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
    "load_spec",
    "register",
    "spec_of",
    "summary",
    "trace",
]
