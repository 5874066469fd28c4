"""The one-way flow README's "The source tree" draws: each part imports only those above it.

The order is read from the README itself, so the drawing and the code cannot drift
apart: every ``import convzoo.X`` / ``from convzoo.X import ...`` in a module (at any
depth, inside functions too, type-checking imports included) must name a part listed
above the module's own part, or the module's own part. The package root, the public API,
re-exports everything lazily: only the command line, drawn last, may import it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "convzoo"


def _order() -> list[str]:
    text = (ROOT / "README.md").read_text()
    tree = text.split("## The source tree", 1)[1].split("```text", 1)[1].split("```", 1)[0]
    return re.findall(r"^  (\w+)(?:\.py|/)", tree, flags=re.M)


ORDER = _order()


def _part(module: str) -> str | None:
    """The listed part a dotted module name belongs to (``convzoo.train.fit`` -> train; the
    root, which re-exports every part, to the last)."""
    if module == "convzoo":
        return ORDER[-1]
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 and pieces[0] == "convzoo" else None


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "convzoo":  # a submodule, or a name the root re-exports
                found += [
                    (node.lineno, f"convzoo.{a.name}" if a.name in ORDER else "convzoo")
                    for a in node.names
                ]
            else:
                found.append((node.lineno, node.module))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def test_the_drawing_lists_every_part():
    parts = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in _modules()}
    assert parts == set(ORDER)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_drawn_order(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    allowed = set(ORDER[: ORDER.index(own) + 1])
    upward = [
        f"line {line}: {name}"
        for line, name in _imports(path)
        if (part := _part(name)) is not None and part not in allowed
    ]
    assert not upward, f"{path.name} ({own}) imports parts drawn below it: {upward}"


def test_an_upward_import_is_found(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from convzoo.train.fit import train\n")
    assert _imports(module) == [(2, "convzoo.train.fit")]
    assert _part("convzoo.train.fit") == "train"
    assert _part("convzoo") == ORDER[-1]


def test_training_has_one_module_per_question():
    """train/ stays grouped by the questions a reader asks (issue 19): at most ten modules."""
    modules = [p.stem for p in (PACKAGE / "train").glob("*.py") if p.stem != "__init__"]
    assert len(modules) <= 10, sorted(modules)
    for question in ("module", "checkpoint", "preflight", "distributed", "callbacks", "fit"):
        assert question in modules
