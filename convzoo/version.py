"""The installed distribution's version and the source's fingerprint, for ``--version`` and
every report's stamp.

It sits at the top of the flow (it imports nothing of convzoo), so a report deep in
``train/`` can stamp it without importing the package root, which re-exports everything.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path

try:
    VERSION = metadata.version("convzoo")
except metadata.PackageNotFoundError:  # a source tree on PYTHONPATH, not installed
    VERSION = "0+unknown"


def code_fingerprint(root: Path | None = None) -> str:
    """A short SHA-256 of the package's source (every ``.py`` file under ``root``, by its path
    and bytes), stamped on every report beside the version: two figures made by different
    code say so, even at the same version number. The package's own is computed once."""
    return _package() if root is None else _fingerprint(root)


@lru_cache(maxsize=1)
def _package() -> str:
    return _fingerprint(Path(__file__).resolve().parent)


def _fingerprint(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
