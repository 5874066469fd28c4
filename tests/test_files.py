"""convzoo's files: every file is bounded before it is read, every YAML document before
anything expands it, and the temporary files of killed writers are removed, never a live
writer's."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from pathlib import Path

import pytest

from convzoo import files
from convzoo.archs import PATH_ENV
from convzoo.bench import SuiteError, load_suite
from convzoo.cli import main
from convzoo.errors import ConvzooError
from convzoo.files import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    check_size,
    dumps_json,
    parse_yaml,
    read_json,
    read_yaml,
    remove_orphans,
    write_atomic,
    write_json,
)
from tests.bombs import alias_bomb


def test_check_size_names_the_path_and_raises_the_callers_error():
    class Mine(ConvzooError):
        pass

    with pytest.raises(Mine, match=rf"doc: a\.1\.\d+: more than {MAX_NODES} values"):
        check_size({"a": [0, list(range(MAX_NODES))]}, "doc", Mine)
    deep: list = []
    for _ in range(MAX_DEPTH):
        deep = [deep]
    with pytest.raises(ConvzooError, match=f"nested more than {MAX_DEPTH} levels deep"):
        check_size({"x": deep}, "doc")
    check_size({"x": list(range(1000))}, "doc")


def test_parse_yaml_refuses_an_alias_bomb_without_expanding_it():
    start = time.perf_counter()
    with pytest.raises(ConvzooError, match=rf"run.yaml: settings[.\d]+: more than {MAX_NODES}"):
        parse_yaml(f"settings: {alias_bomb()}\n", "run.yaml")
    assert time.perf_counter() - start < 10


def test_a_config_file_bomb_is_one_message_and_exit_2(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text(f"swap: {alias_bomb()}\n")
    out = tmp_path / "run"
    code = main(["train", "tiny", "--config", str(config), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and f"more than {MAX_NODES} values" in err and "Traceback" not in err
    assert len(err) < 2000 and not out.exists()


def test_a_suite_file_bomb_is_refused(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: bomb\narchs: {alias_bomb()}\n")
    with pytest.raises(SuiteError, match=f"more than {MAX_NODES} values"):
        load_suite(suite)


def test_json_is_strict_a_missing_number_is_null(tmp_path):
    data = {"acc": math.nan, "curve": [1.0, math.inf, -math.inf], "pair": (0.5, math.nan)}
    text = dumps_json(data)
    assert json.loads(text) == {"acc": None, "curve": [1.0, None, None], "pair": [0.5, None]}
    assert "NaN" not in text and "Infinity" not in text
    write_json(tmp_path / "r.json", data)
    assert json.loads((tmp_path / "r.json").read_text()) == json.loads(text)


def test_orphans_of_killed_writers_go_and_a_live_writers_file_stays(tmp_path, monkeypatch):
    killed = [tmp_path / ".report.json.k1ll3d00.tmp", tmp_path / "logs" / ".config.yaml.k1ll.tmp"]
    for path in killed:
        path.parent.mkdir(exist_ok=True)
        path.write_text("half")  # what a kill leaves: the file, and no lock on it
    writing, release = threading.Event(), threading.Event()
    fsync = os.fsync

    def slow_fsync(fd: int) -> None:  # the live writer pauses between its write and its rename
        if not writing.is_set():
            writing.set()
            release.wait(30)
        fsync(fd)

    monkeypatch.setattr(files.os, "fsync", slow_fsync)
    writer = threading.Thread(target=write_atomic, args=(tmp_path / "evaluate.json", "{}"))
    writer.start()
    assert writing.wait(30)
    (live,) = tmp_path.glob(".evaluate.json.*.tmp")
    assert sorted(remove_orphans(tmp_path)) == sorted(killed)
    assert live.exists()
    release.set()
    writer.join(30)
    assert (tmp_path / "evaluate.json").read_text() == "{}"
    assert not list(tmp_path.rglob("*.tmp"))


def _unreadable(folder: Path, kind: str) -> Path:
    """A file convzoo must refuse before reading it: a device, a pipe, a folder, a sparse
    file of 2 GiB (no disk space, no memory), or one byte more than ``MAX_BYTES``."""
    path = folder / f"{kind}.yaml"
    if kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "pipe":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        with path.open("wb") as f:
            f.truncate(2**31 if kind == "huge" else MAX_BYTES + 1)
    return path


KINDS = {
    "device": "not a regular file",
    "pipe": "not a regular file",
    "folder": "not a regular file",
    "huge": f"more than {MAX_BYTES:,} bytes",
    "one byte too many": f"more than {MAX_BYTES:,} bytes",
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("kind", "message"), KINDS.items())
def test_a_file_is_checked_before_it_is_read(tmp_path, kind, message):
    path = _unreadable(tmp_path, kind)
    start = time.perf_counter()
    with pytest.raises(ConvzooError, match=f"{path}: .*{message}"):
        read_yaml(path, "the spec file")
    assert read_json(path) is None
    assert time.perf_counter() - start < 5


def test_a_file_of_the_limit_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_BYTES", 16)
    path = tmp_path / "small.yaml"
    path.write_text("a: [1, 2, 3, 4]\n")  # 16 bytes
    assert read_yaml(path, "a file") == {"a": [1, 2, 3, 4]}
    path.write_text("a: [1, 2, 3, 45]\n")
    with pytest.raises(ConvzooError, match="more than 16 bytes"):
        read_yaml(path, "a file")


@pytest.mark.timeout(120)
def test_every_command_bounds_the_files_it_reads(tmp_path, capsys, monkeypatch):
    """A spec, a --config file, a suite and every file of CONVZOO_ARCH_PATH: one message (or
    one entry of ``list archs``), no memory spent."""
    device, huge = _unreadable(tmp_path, "device"), _unreadable(tmp_path, "huge")
    for argv in (
        ["show", str(device)],
        ["show", str(huge)],
        ["train", "tiny", "--config", str(huge), "--out", str(tmp_path / "run")],
        ["bench", str(device), "--list"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("convzoo: error: ") and err.count("\n") == 1, err
    monkeypatch.setenv(PATH_ENV, str(tmp_path))
    assert main(["list", "archs", "huge", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["params"] is None and "more than" in entry["error"]
    assert not (tmp_path / "run").exists()
