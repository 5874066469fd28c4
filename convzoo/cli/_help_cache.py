"""Help text that only a heavy import can write, built once per installed version and kept.

``convzoo train --help`` lists ``lightning.Trainer``'s arguments with their
descriptions, which jsonargparse reads from Trainer's signature and docstring:
importing Lightning for that costs seconds, more than the rest of the command.
``convzoo evaluate --help`` names the measures, whose table imports torch. So each
such text is made once and kept as JSON in the user's cache folder
(``$XDG_CACHE_HOME/convzoo``, else ``~/.cache/convzoo``), with the key it was made
under: the versions of the distributions it comes from, Python's, and a digest of
convzoo's files that make it (so that an editable install's change is seen). A file
made under another key, damaged, or of the wrong shape is made again; a folder that
cannot be written costs the time to make the text, every time, and nothing else.
Reading the key costs a few milliseconds (``importlib.metadata``, no import).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from convzoo.errors import ConvzooError
from convzoo.files import read_json, write_json
from convzoo.settings import accepts

FORMAT = 1  # the layout of a cache file; a change of it makes every file again
DISTRIBUTIONS = ("convzoo", "lightning", "jsonargparse", "docstring-parser")
PACKAGE = Path(__file__).resolve().parents[1]  # convzoo/

T = TypeVar("T")


def folder() -> Path | None:
    """Where the texts are kept (XDG's cache folder, an absolute path only), or None where
    there is no home folder to put them in."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME and no passwd entry
            return None
    return Path(base) / "convzoo"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def key(sources: Sequence[str]) -> dict[str, Any]:
    """What a text depends on: the distributions' versions, Python's, this file's format and
    the SHA-256 of ``sources`` (paths in the convzoo package)."""
    import hashlib  # here: 3 ms that the commands without help need not pay

    digest = hashlib.sha256()
    for name in sources:
        try:
            digest.update((PACKAGE / name).read_bytes())
        except OSError:
            digest.update(name.encode())
    return {
        "format": FORMAT,
        "python": ".".join(map(str, sys.version_info[:2])),
        "versions": {d: _version(d) for d in DISTRIBUTIONS},
        "sources": digest.hexdigest(),
    }


def cached(name: str, make: Callable[[], T], shape: Any, sources: Sequence[str]) -> T:
    """The text ``name``: kept in the cache under the current ``key(sources)`` and of the
    ``shape`` (a type hint, as ``settings.accepts`` reads it), else ``make()``'s, kept."""
    where = folder()
    path = None if where is None else where / f"{name}.json"
    wanted = key(sources)
    found = None if path is None else read_json(path)
    if found is not None and found.get("key") == wanted and accepts(found.get("data"), shape):
        return found["data"]
    data = make()
    if path is not None:
        with contextlib.suppress(ConvzooError):  # a folder that cannot be written: made each time
            write_json(path, {"key": wanted, "data": data})
    return data
