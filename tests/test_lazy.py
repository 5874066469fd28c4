"""convzoo's lazily imported names: declared once each way, and the same as eager ones.

``convzoo``, ``convzoo.train`` and ``convzoo.data`` import their heavy names on
first use (``convzoo.lazy``). Type checkers read the ``TYPE_CHECKING`` imports,
the package its table: the two must name the same objects. The behaviour that
eager imports gave for free is checked in a fresh interpreter, where nothing has
been resolved yet.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import convzoo

PACKAGES = ("convzoo", "convzoo.train", "convzoo.data")


def type_checking_imports(package: str) -> dict[str, str]:
    """``name -> module`` of the imports under ``if TYPE_CHECKING:`` in ``package``."""
    tree = ast.parse(Path(importlib.import_module(package).__file__).read_text())
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    )
    found = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom), ast.dump(node)
        for alias in node.names:
            found[alias.name] = node.module
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_the_type_checking_imports_are_the_lazy_table(package):
    module = importlib.import_module(package)
    table = vars(module)["__lazy_exports__"]
    declared = type_checking_imports(package)
    assert set(declared) == set(table.table)
    for name, source in declared.items():
        expected = f"{source}.{name}" if name in table.submodules else source
        assert table.table[name] == expected, name
        value = getattr(module, name)
        if name in table.submodules:
            assert value is importlib.import_module(expected)
        else:
            assert value is getattr(importlib.import_module(expected), name)
    assert set(table.table) <= set(module.__all__) <= set(dir(module))


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        convzoo.nope  # noqa: B018


DIRECT = """
import json
from torch import nn
from convzoo.registry import REGISTRY
def mine():
    return nn.Identity()
REGISTRY.register("act", "tanh", mine, override=True)   # before the built-in blocks loaded
blocks = len(REGISTRY)                                  # the registry loads them itself
import convzoo.summary                                  # the submodule, before the function
import convzoo
print(json.dumps({
    "blocks": blocks,
    "override": REGISTRY.get("act", "tanh").obj is mine,
    "summary": [callable(convzoo.summary), convzoo.summary.__module__],
    "load": convzoo.load.__module__,
}))
"""

PUBLIC = """
import json, sys
import convzoo
before = "convzoo.blocks" in sys.modules
convzoo.register                                         # any public name
print(json.dumps([before, "convzoo.blocks.nonlinear" in sys.modules]))
"""


def fresh(script: str) -> object:
    """What ``script`` prints as JSON, run in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_registry_and_submodules_work_before_any_public_name_is_used():
    report = fresh(DIRECT)
    assert report["blocks"] == len(convzoo.list_blocks())
    assert report["override"] is True
    assert report["summary"] == [True, "convzoo.summary"]
    assert report["load"] == "convzoo.train.checkpoint"


def test_a_public_name_registers_the_built_in_blocks_first():
    assert fresh(PUBLIC) == [False, True]
