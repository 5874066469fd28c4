"""Shared fixtures: a scratch registry entry removed after the test; the built distributions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import convzoo as cz

ROOT = Path(__file__).resolve().parents[1]
NOT_SOURCE = (".venv", "build", "dist", "runs", "*.egg-info", ".git", ".*cache*", "__pycache__")


@dataclass(frozen=True)
class Dists:
    """The sdist and the wheel of the working tree."""

    sdist: Path
    wheel: Path


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """``python -m build`` of a clean copy of the tree, once per session: the sdist, then the
    wheel built from that sdist (so a file the sdist lacks fails the wheel). Offline: the
    build backend is the one installed (``--no-isolation``)."""
    tmp = tmp_path_factory.mktemp("dists")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    out = tmp / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return Dists(next(out.glob("convzoo-*.tar.gz")), next(out.glob("convzoo-*.whl")))


@pytest.fixture
def scratch() -> Iterator[Callable[..., Any]]:
    """Register blocks in the global registry for one test; they are removed afterwards."""
    added: list[tuple[str, str]] = []

    def add(family: str, name: str, obj: Any = None, **kwargs: Any) -> Any:
        added.append((family, name))
        return cz.register(family, name, obj, **kwargs)

    yield add
    for family, name in added:
        cz.REGISTRY.unregister(family, name)
