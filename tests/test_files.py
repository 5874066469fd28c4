"""convzoo's files: every YAML document is bounded before anything expands it, and the
temporary files of killed writers are removed, never a live writer's."""

from __future__ import annotations

import json
import math
import os
import threading
import time

import pytest

from convzoo import files
from convzoo.bench import SuiteError, load_suite
from convzoo.cli import main
from convzoo.errors import ConvzooError
from convzoo.files import (
    MAX_DEPTH,
    MAX_NODES,
    check_size,
    dumps_json,
    parse_yaml,
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
