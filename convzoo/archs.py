"""Where the named architectures live: ``registry/*.yaml``.

In a source checkout they are the top-level ``registry/`` folder; an installed
wheel carries the same files as the data package ``convzoo/zoo/`` (see
pyproject.toml). Extra
folders can be put in front with ``CONVZOO_ARCH_PATH`` (``os.pathsep``-separated).
An architecture name, like a block name, is only a key: it must be a plain
name, and it selects a file from these folders, never an arbitrary path.
"""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path

from convzoo.errors import ConvzooError, did_you_mean
from convzoo.registry import natural_key

PATH_ENV = "CONVZOO_ARCH_PATH"
_ARCH_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


def arch_dirs() -> list[Path]:
    """The folders searched for named architectures, first match wins."""
    here = Path(__file__).resolve().parent
    dirs = [Path(p) for p in os.environ.get(PATH_ENV, "").split(os.pathsep) if p]
    dirs += [here / "zoo", here.parent / "registry"]
    return [d for d in dirs if d.is_dir()]


def arch_names() -> list[str]:
    """Every named architecture, in natural order."""
    names = {p.stem for d in arch_dirs() for p in d.glob("*.yaml")}
    return sorted(names, key=natural_key)


def list_archs(pattern: str | None = None) -> list[str]:
    """Named architectures in natural order; ``pattern`` is a glob on names."""
    return [n for n in arch_names() if pattern is None or fnmatch.fnmatchcase(n, pattern)]


def arch_path(name: str) -> Path:
    """The YAML file of the architecture ``name``; unknown names say what is close."""
    if _ARCH_NAME.match(name):
        for folder in arch_dirs():
            candidate = folder / f"{name}.yaml"
            if candidate.is_file():
                return candidate
    names = arch_names()
    raise ConvzooError(
        f"unknown architecture {name!r} (neither a registered name nor a YAML file)."
        f"{did_you_mean(name, names)} Available architectures: {', '.join(names) or '(none)'}."
    )
