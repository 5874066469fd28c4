"""The documentation holds: README.md's and CONTRIBUTING.md's code runs, their names exist.

Every ``python`` code block of a file runs, in order, in one namespace (as a
reader would paste them into one session); blocks a reader cannot run as they
stand are fenced otherwise (``text``). Every ``cz.NAME`` / ``convzoo.NAME`` the
files mention is public, and every ``convzoo`` command line in their ``sh``
blocks names a real subcommand and only flags it takes.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import convzoo
from convzoo.cli import make_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "CONTRIBUTING.md"]
FENCE = re.compile(r"^( *)```(\w+)\n(.*?)^\1```", re.S | re.M)


def blocks(name: str, language: str) -> list[str]:
    """The code blocks of one language in a Markdown file, dedented, in order."""
    text = (ROOT / name).read_text(encoding="utf-8")
    found = []
    for indent, lang, body in FENCE.findall(text):
        if lang == language:
            found.append("".join(line[len(indent) :] for line in body.splitlines(True)))
    return found


@pytest.fixture
def clean_registry():
    """The blocks the docs register are removed again afterwards."""
    before = {b.key for b in convzoo.list_blocks()}
    yield
    for info in convzoo.list_blocks():
        if info.key not in before:
            convzoo.REGISTRY.unregister(info.family, info.name)


@pytest.mark.parametrize("name", DOCS)
def test_every_python_block_runs(name, clean_registry, tmp_path, monkeypatch):
    code = blocks(name, "python")
    assert code, f"{name} has no python blocks"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{Path(name).stem.lower()}"}
    for i, source in enumerate(code):
        try:
            exec(compile(source, f"{name} python block {i + 1}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{name} python block {i + 1} fails: {exc!r}\n{source}") from exc
    for key, value in list(namespace.items()):
        if key.startswith("test_") and callable(value):
            marks = getattr(value, "pytestmark", [])
            params = [m for m in marks if m.name == "parametrize"]
            cases = params[0].args[1] if params else [None]
            for case in cases:
                value(case) if params else value()


@pytest.mark.parametrize("name", DOCS)
def test_every_name_shown_is_public(name):
    text = (ROOT / name).read_text(encoding="utf-8")
    names = set(re.findall(r"\b(?:cz|convzoo)\.([A-Za-z_]\w*)", text))
    assert names, name
    missing = sorted(
        n
        for n in names
        if not hasattr(convzoo, n) and importlib.util.find_spec(f"convzoo.{n}") is None
    )
    assert not missing, f"{name} shows convzoo.{missing} that convzoo does not export"


def _flags(parser, words: list[str]) -> set[str]:
    for word in words:
        parser = parser._subcommands_action._name_parser_map[word]
    return {opt for action in parser._actions for opt in action.option_strings}


@pytest.mark.parametrize("name", DOCS)
def test_every_command_line_shown_is_accepted(name):
    parser = make_parser()
    lines = [
        line.split("#")[0]
        for block in blocks(name, "sh")
        for line in block.replace("\\\n", " ").splitlines()
    ]
    commands = [line.split() for line in lines if line.strip().startswith("convzoo ")]
    for words in commands:
        path = [words[1]] + ([words[2]] if words[1] == "list" else [])
        known = _flags(parser, path)
        given = {w.split("=")[0].strip("[]") for w in words if w.lstrip("[").startswith("--")}
        unknown = sorted(f for f in given if f not in known)
        assert not unknown, f"{name}: `{' '.join(words)}` shows flags {unknown} it does not take"


LINK = re.compile(r"\]\(([^)\s]*)")


def test_readme_links_work_on_pypi():
    # PyPI renders README.md as the package's page, away from the source tree and
    # without heading anchors: a relative link or an in-page #anchor goes nowhere.
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = LINK.findall(text) + re.findall(r'(?:href|src)="([^"]*)"', text)
    broken = [t for t in targets if not t.startswith("https://")]
    assert not broken, f"README.md links that PyPI cannot follow: {broken}"
