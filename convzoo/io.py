"""Reading and writing the files convzoo keeps: atomic writes, strict JSON, safe YAML.

Every result file convzoo writes -- reports, evaluations, bench cells and
tables, checkpoints -- goes through ``write_atomic``: a temporary file in the same folder,
flushed to disk, then renamed over the target, so a reader (or a run killed
half-way) never sees half a file. JSON is written strictly: a number that is not
finite becomes ``null``, never the ``NaN`` that JSON parsers refuse. YAML is read
with the safe loader only, so a ``!!python/...`` tag is an error and never code
that runs. ``locked`` gives a folder one writer at a time. This module sits at the
bottom of the flow beside ``errors``.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from convzoo.errors import ConvzooError

TEMP_SUFFIX = ".tmp"
LOCK_FILE = ".lock"
_HELD: dict[Path, tuple[int, int]] = {}  # folder -> (lock file descriptor, nesting depth)


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in its folder, fsync, a rename and
    an fsync of the folder: the old file stays whole until the new one is complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_orphans(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that a killed ``write_atomic`` left in ``folder``."""
    found = sorted(Path(folder).glob(f".*{TEMP_SUFFIX}")) if Path(folder).is_dir() else []
    for path in found:
        path.unlink(missing_ok=True)
    return found


@contextmanager
def locked(folder: str | os.PathLike, what: str = "run") -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (its ``.lock`` file) for one writer at a time.

    A second process that asks for it is refused at once with a ``ConvzooError``
    naming the holder's pid; the same process may take it again (nested). The
    lock goes with the process: a killed holder leaves no stale lock behind.
    """
    folder = Path(folder).resolve()
    if folder in _HELD:
        fd, depth = _HELD[folder]
        _HELD[folder] = (fd, depth + 1)
    else:
        _HELD[folder] = (_acquire(folder, what), 1)
    try:
        yield
    finally:
        fd, depth = _HELD[folder]
        if depth > 1:
            _HELD[folder] = (fd, depth - 1)
        else:
            del _HELD[folder]
            os.close(fd)


def _acquire(folder: Path, what: str) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ConvzooError(
            f"{folder}: another convzoo process (pid {holder}) is writing this {what}; "
            "wait for it to end, or choose another --out"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def finite(data: Any) -> Any:
    """``data`` with every non-finite float replaced by None (tuples become lists)."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    return data


def dumps_json(data: Any) -> str:
    """Strict, indented JSON: non-finite numbers are written as ``null``."""
    return json.dumps(finite(data), indent=2, allow_nan=False) + "\n"


def dumps_yaml(data: Any) -> str:
    """Plain data as block-style YAML, keys in their given order (``yaml.safe_dump``)."""
    return yaml.safe_dump(data, sort_keys=False)


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as strict JSON, atomically."""
    return write_atomic(path, dumps_json(data))


def read_json(path: str | os.PathLike) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when there is none or it cannot be read."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def parse_yaml(text: str, origin: str, error: type[ConvzooError] = ConvzooError) -> Any:
    """Parse YAML text with the safe loader; a syntax error or a python tag raises ``error``
    naming ``origin`` and the line."""
    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise error(
            f"{origin}: nested too deeply to read (keep it under a few hundred levels)"
        ) from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise error(f"{origin}: not valid YAML: {str(exc)[:200]}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin} line {mark.line + 1}" if mark is not None else origin
        problem = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, yaml.constructor.ConstructorError) and "python/" in problem:
            raise error(
                f"{where}: {problem}. convzoo reads YAML with the safe loader only, which never "
                "runs code: remove the !!python tag and write plain data."
            ) from exc
        raise error(f"{where}: not valid YAML: {problem}") from exc


def read_yaml(path: str | os.PathLike, what: str, error: type[ConvzooError] = ConvzooError) -> Any:
    """Read and parse the YAML file ``path``; ``what`` ("the spec file") names it in errors."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise error(f"{path}: cannot read {what}: {reason}") from exc
    return parse_yaml(text, str(path), error)
