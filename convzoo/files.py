"""Reading and writing the files convzoo keeps: atomic writes, strict JSON, bounded safe YAML.

Every result file convzoo writes -- reports, evaluations, bench cells and
tables, checkpoints -- goes through ``write_atomic``: a temporary file in the same
folder, flushed to disk, then renamed over the target, so a reader (or a run killed
half-way) never sees half a file; a write the system refuses (a full disk) is one
``ConvzooError`` naming the file, and the file as it was stays. JSON is written
strictly: a number that is not finite becomes ``null``, never the ``NaN`` that JSON
parsers refuse. Every file convzoo reads as YAML or JSON goes through
``read_bounded``, which checks its kind and size before it reads it and reads at
most ``MAX_BYTES``: a device such as ``/dev/zero``, a pipe or a 2 GB file is refused
at no cost. YAML is read with the safe loader only, so a ``!!python/...`` tag is an
error and never code that runs, and what it holds is bounded by ``check_size``: a
few hundred bytes of aliases that name one list billions of times are refused, never
expanded. ``locked`` gives a folder one writer at a time. This module sits at the
bottom of the flow beside ``errors``.

A writer holds a lock (``flock``) on its temporary file until the rename, and the lock
dies with its process: ``remove_orphans`` removes the temporary files of killed writers,
never one whose writer is alive.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from convzoo.errors import ConvzooError, short_repr

TEMP_SUFFIX = ".tmp"
LOCK_FILE = ".lock"
_HELD: dict[Path, tuple[int, int]] = {}  # folder -> (lock file descriptor, nesting depth)
MAX_NODES = 100_000  # values in a YAML document: items and mapping values, an alias at every use
MAX_DEPTH = 64  # levels of mappings and lists
KEY_LIMIT = 40  # characters of a key a path shows
MAX_BYTES = 2**20  # bytes of a file convzoo reads as YAML or JSON; its own are a few kB


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in its folder, fsync, a rename and
    an fsync of the folder: the old file stays whole until the new one is complete.

    A write the system refuses (a full disk, a quota, a read-only folder) is a
    ``ConvzooError`` naming the file, with no temporary file left behind."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _locked_temporary(path)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(raw)
                f.flush()
                os.fsync(f.fileno())
                os.replace(tmp, path)  # still locked: no cleaner takes it for an orphan
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_folder(path.parent)
    except OSError as exc:
        raise ConvzooError(
            f"{short_repr(str(path))}: cannot write it ({exc.strerror or exc}); the file as it "
            "was before is kept. Make room on the disk (or write elsewhere, --out) and run the "
            "command again"
        ) from exc
    return path


def _locked_temporary(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path``, locked by this process. A cleaner may remove it in
    the instant between its creation and the lock; then it is made again."""
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink:
            return fd, tmp
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_orphans(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed ``write_atomic`` calls left anywhere under
    ``folder``; one whose writer is alive holds its lock and is left to it. The removed ones."""
    found = sorted(Path(folder).rglob(f".*{TEMP_SUFFIX}")) if Path(folder).is_dir() else []
    removed = []
    for path in found:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # renamed by its writer meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a live writer's
            continue
        else:
            path.unlink(missing_ok=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed


@contextmanager
def locked(folder: str | os.PathLike, what: str = "run") -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (its ``.lock`` file) for one writer at a time.

    A second process that asks for it is refused at once with a ``ConvzooError``
    naming the holder's pid; the same process may take it again (nested). The
    lock goes with the process: a killed holder leaves no stale lock behind. A
    folder that the lock created and that holds nothing else when it is released (a
    run refused before it wrote anything) is removed again. A folder that cannot be
    made or written is a ``ConvzooError`` naming it.
    """
    try:
        folder = Path(folder).resolve()
    except (OSError, RuntimeError):  # too long, or a symlink loop: _acquire names the failure
        folder = Path(folder).absolute()
    if folder in _HELD:
        fd, depth = _HELD[folder]
        _HELD[folder] = (fd, depth + 1)
    else:
        created = not folder.exists()
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
            if created and [p.name for p in folder.iterdir()] == [LOCK_FILE]:
                (folder / LOCK_FILE).unlink()
                folder.rmdir()


def _acquire(folder: Path, what: str) -> int:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConvzooError(
            f"{short_repr(str(folder))}: cannot write the {what} there ({reason(exc)}); "
            "choose another --out"
        ) from None
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


def reason(exc: OSError) -> str:
    """Why the system refused a path, as a message says it: ``exc.strerror``, but for a
    symbolic link that leads to nothing (a loop, a missing target), which the system calls
    "File exists" when a folder is made there."""
    link = exc.filename is not None and os.path.islink(exc.filename)
    if link and not os.path.exists(exc.filename):
        return "a symbolic link that leads nowhere: a loop, or to a missing target"
    return exc.strerror or str(exc)


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
    """The JSON object in ``path``, or None when there is none or it cannot be read (or is
    larger than ``MAX_BYTES``)."""
    try:
        data = json.loads(read_bounded(path, "the JSON file"))
    except (ConvzooError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_bounded(
    path: str | os.PathLike, what: str, error: type[ConvzooError] = ConvzooError
) -> bytes:
    """The bytes of the regular file ``path``, which may hold at most ``MAX_BYTES``.

    Its kind and size are checked before anything is read, and at most one byte past
    the limit is ever read, so a device (``/dev/zero``), a pipe, a folder or a huge file
    costs nothing: each raises ``error`` naming ``path`` and ``what`` it is."""
    try:  # non-blocking, so that opening a pipe with no writer does not wait
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(
                f"{path}: cannot read {what}: not a regular file (a device, a pipe or a folder)"
            )
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_BYTES + 1) if info.st_size <= MAX_BYTES else b""
    finally:
        os.close(fd)
    if info.st_size > MAX_BYTES or len(data) > MAX_BYTES:
        raise error(
            f"{path}: {what} holds more than {MAX_BYTES:,} bytes, more than convzoo reads "
            "(its specs, suites and settings files take a few kB); check that it is the file "
            "you meant"
        )
    return data


def path_step(path: str, key: Any) -> str:
    """``path.key``; a key that is not a short string is shown by ``short_repr``."""
    label = key if isinstance(key, str) and len(key) <= KEY_LIMIT else short_repr(key, KEY_LIMIT)
    return f"{path}.{label}" if path else str(label)


def _where(keys: list[Any]) -> str:
    path = ""
    for key in keys:
        path = path_step(path, key)
    return path or "the top level"


def check_size(data: Any, origin: str, error: type[ConvzooError] = ConvzooError) -> None:
    """Refuse data with more than ``MAX_NODES`` values or nested deeper than ``MAX_DEPTH``.

    The walk counts visits, not objects, so an alias counts at every use, and it
    stops at the first limit it passes: a bomb is refused, never expanded.
    """
    frames: list[tuple[Any, Iterator[tuple[Any, Any]]]] = []  # (key in parent, children)
    count, key, value = 1, None, data
    while True:
        if isinstance(value, (Mapping, list, tuple)):
            if len(frames) == MAX_DEPTH:
                raise error(
                    f"{origin}: {_where([f[0] for f in frames[1:]] + [key])}: values are nested "
                    f"more than {MAX_DEPTH} levels deep (mappings and lists), more than convzoo "
                    "reads"
                )
            children = value.items() if isinstance(value, Mapping) else enumerate(value)
            frames.append((key, iter(children)))
        child = None
        while frames and (child := next(frames[-1][1], None)) is None:
            frames.pop()
        if child is None:  # every frame is spent
            return
        key, value = child
        count += 1
        if count > MAX_NODES:
            raise error(
                f"{origin}: {_where([f[0] for f in frames[1:]] + [key])}: more than "
                f"{MAX_NODES} values (list items and mapping values, an alias counted at every "
                "use), more than convzoo reads; write a repeated part of a spec once with repeat"
            )


def parse_yaml(text: str, origin: str, error: type[ConvzooError] = ConvzooError) -> Any:
    """Parse YAML text with the safe loader; a syntax error, a python tag or data past
    ``check_size``'s bounds raises ``error`` naming ``origin`` and the line or path."""
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise error(
            f"{origin}: nested too deeply to read, far past the {MAX_DEPTH} levels of mappings "
            "and lists that convzoo reads"
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
    check_size(data, origin, error)
    return data


def yaml_value(text: str, origin: str) -> Any:
    """The data a string holds when a parser of options reads it as YAML (jsonargparse does,
    for ``--trainer.callbacks '[...]'``), bounded by ``check_size``; the text itself where
    it is no valid YAML, as such a parser keeps it."""
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError):
        return text
    check_size(data, origin)
    return data


def read_yaml(path: str | os.PathLike, what: str, error: type[ConvzooError] = ConvzooError) -> Any:
    """Read (``read_bounded``) and parse the YAML file ``path``; ``what`` ("the spec file")
    names it in errors."""
    try:
        text = read_bounded(path, what, error).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from exc
    return parse_yaml(text, str(path), error)
