"""The ``convzoo`` command: exit status 2 with one message for bad input, --debug, the script."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from convzoo.train.checkpoint import read_checkpoint
from tests.cli.conftest import run

BAD = {
    "unknown name": ("show", "lenet6"),
    "unknown swap": ("show", "lenet5_modern", "--swap", "act=rleu"),
    "malformed swap": ("show", "lenet5_modern", "--swap", "act"),
    "malformed yaml": "input: [1, 8\nlayers: [\n",
    "shape mismatch": "input: [1, 4, 4]\nlayers:\n  - {filter: conv, out: 2, kernel: 5}\n",
    "unknown argument": "input: [1, 8, 8]\nlayers:\n  - {filter: conv, out: 2, size: 1}\n",
    "python tag": "input: !!python/name:os.system\nlayers: []\n",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_one_message(capsys, tmp_path: Path, case):
    argv = BAD[case]
    if isinstance(argv, str):
        path = tmp_path / "spec.yaml"
        path.write_text(argv)
        argv = ("show", str(path))
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("convzoo: error: ") and "Traceback" not in err
    assert err.count("convzoo: error") == 1


def test_debug_shows_the_traceback(capsys):
    code, _, err = run(capsys, "show", "lenet6", "--debug")
    assert code == 2 and "Traceback" in err and "convzoo: error" in err


def test_the_installed_command_runs():
    exe = Path(sys.executable).with_name("convzoo")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "convzoo.cli"]
    result = subprocess.run([*command, "show", "nope"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "did you mean" in result.stderr.lower() or "Available architectures" in result.stderr
    assert "Traceback" not in result.stderr


TINY = ["benchmarks/suites/tiny.yaml", "--data", "synthetic", "--epochs", "1"]
LONG = "q" * 300  # longer than a file name may be


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("a file", "cannot write the run there (File exists)"),
        ("a file/sub", "cannot write the run there (Not a directory)"),
        (LONG, "File name too long"),
    ],
)
def test_an_out_that_cannot_be_a_folder_is_one_message(capsys, tmp_path, where, message):
    (tmp_path / "a file").write_text("keep me")
    code, _, err = run(capsys, "train", *TINY, "--out", str(tmp_path / where))
    assert code == 2 and message in err and "Traceback" not in err
    assert err.count("convzoo: error") == 1 and len(err) < 1000
    assert (tmp_path / "a file").read_text() == "keep me"


def test_a_name_longer_than_a_file_name_is_one_message(capsys, tmp_path):
    code, _, err = run(capsys, "train", LONG, "--data", "synthetic", "--out", str(tmp_path / "r"))
    assert code == 2 and "Traceback" not in err and len(err) < 1000
    mnist = [TINY[0], "--data", "mnist", "--data-dir", LONG]
    code, _, err = run(capsys, "train", *mnist, "--out", str(tmp_path / "r"))
    assert code == 2 and "Traceback" not in err and len(err) < 1000
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("flag", ["--data", "--accelerator", "--strategy", "--optimizer"])
def test_a_huge_value_is_shown_cut_short(capsys, tmp_path, flag):
    code, _, err = run(capsys, "train", *TINY, flag, "y" * 100_000, "--out", str(tmp_path / "r"))
    assert code == 2 and err.count("convzoo: error") == 1 and len(err) < 1000
    assert not (tmp_path / "r").exists()


def test_a_run_refused_before_it_wrote_anything_leaves_no_folder(capsys, tmp_path):
    for name in ("train-images", "train-labels", "t10k-images", "t10k-labels"):
        kind = "idx3" if "images" in name else "idx1"
        (tmp_path / f"{name}-{kind}-ubyte").write_bytes(b"not an IDX file")
    out = tmp_path / "run"
    argv = ["train", TINY[0], "--data", "mnist", "--data-dir", str(tmp_path), "--out", str(out)]
    code, _, err = run(capsys, *argv)
    assert code == 2 and "ubyte" in err and "Traceback" not in err
    assert not out.exists()  # the lock it took went with it


def _full_disk(monkeypatch, full) -> None:
    """``os.fsync`` fails as on a full disk (ENOSPC) for the files whose path ``full`` picks:
    ``write_atomic`` flushes every file convzoo writes."""
    fsync = os.fsync

    def failing(fd):
        if full(os.readlink(f"/proc/self/fd/{fd}")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", failing)


def _one_message(err: str, *words: str) -> None:
    """``err`` ends with one error line holding ``words`` (after a run's lines of progress)."""
    *_, last = err.splitlines()
    assert err.count("convzoo: error: ") == 1 and last.startswith("convzoo: error: "), err
    assert "Traceback" not in err and all(word in last for word in words), err


TRAIN = ["train", TINY[0], "--data", "synthetic", "--accelerator", "cpu", "--batch-size", "64"]


def test_a_full_disk_while_training_is_one_message_and_keeps_the_last_checkpoint(
    capsys, tmp_path, monkeypatch
):
    saves = []  # the second epoch's checkpoint finds the disk full

    def full(path):
        saves.extend([path] if ".last.ckpt." in path else [])
        return len(saves) > 1 and ".last.ckpt." in path

    _full_disk(monkeypatch, full)
    out = tmp_path / "run"
    code, _, err = run(capsys, *TRAIN, "--epochs", "2", "--out", str(out))
    assert code == 2
    _one_message(err, "last.ckpt", "No space left on device", "the file as it was before is kept")
    assert read_checkpoint(out / "checkpoints" / "last.ckpt")["epoch"] == 0  # the first epoch's
    assert not list(out.rglob("*.tmp")) and not (out / "report.json").exists()


def test_a_full_disk_under_lightning_s_own_writes_is_one_message(capsys, tmp_path, monkeypatch):
    from lightning.fabric.loggers.csv_logs import _ExperimentWriter

    def save(self):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_ExperimentWriter, "save", save)  # the CSV logger writes no file whole
    code, _, err = run(capsys, *TRAIN, "--epochs", "1", "--out", str(tmp_path / "run"))
    assert code == 2
    _one_message(err, "No space left on device; make room on the disk")


def test_a_full_disk_while_evaluating_is_one_message_and_writes_no_result(
    capsys, tmp_path, monkeypatch
):
    out = tmp_path / "run"
    assert run(capsys, *TRAIN, "--epochs", "1", "--out", str(out))[0] == 0
    _full_disk(monkeypatch, lambda path: ".evaluate.json." in path)
    code, _, err = run(capsys, "evaluate", str(out), "--samples", "8", "--scales", "1")
    assert code == 2
    _one_message(err, "evaluate.json", "No space left on device")
    assert not (out / "evaluate.json").exists() and not list(out.rglob("*.tmp"))


@pytest.mark.parametrize("where", ["loop", "loop/run"])
def test_an_out_in_a_symlink_loop_is_one_message(capsys, tmp_path, where):
    (tmp_path / "loop").symlink_to("loop")
    code, _, err = run(capsys, *TRAIN, "--out", str(tmp_path / where))
    assert code == 2
    _one_message(err, "cannot write the run there")


def _parsers():
    """Every subcommand's parser (``list``'s own subcommands too), by its command line."""
    from convzoo.cli import make_parser

    found = {}
    todo = [("convzoo", make_parser(tuple(SUBCOMMANDS)))]
    while todo:
        name, parser = todo.pop()
        found[name] = parser
        action = getattr(parser, "_subcommands_action", None)
        for word, sub in action._name_parser_map.items() if action else []:
            todo.append((f"{name} {word}", sub))
    return found


SUBCOMMANDS = ("list", "show", "train", "evaluate", "scan", "bench")


def test_every_option_states_its_default_once():
    from argparse import SUPPRESS

    for name, parser in _parsers().items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if (
                not action.option_strings
                or action.help == SUPPRESS
                or {"-h", "--version"} & set(action.option_strings)
            ):
                continue
            if any(o.startswith("--trainer") for o in action.option_strings):
                continue  # Lightning's own arguments, with jsonargparse's (type, default)
            if getattr(action, "_name_parser_map", None) is not None:
                continue
            text = formatter._get_help_string(action)
            assert text.count("default:") == 1, f"{name} {action.option_strings}: {text!r}"
            assert not re.search(r"default: (False|True|null)\b", text), text  # no, yes, none


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "name a command, one of: list, show, train, evaluate, scan, bench"),
        (["lst"], "Did you mean 'list'?"),
        (["bench"], "convzoo bench: name the SUITE (see convzoo bench --help)"),
        (["show"], "convzoo show: name the ARCH"),
        (["list", "blok"], "Did you mean 'blocks'?"),
    ],
)
def test_a_command_line_without_its_words_is_one_line_naming_them(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_bench_takes_its_device_flags_from_train_s_declaration():
    parsers = _parsers()
    for name in ("--devices", "--strategy", "--accelerator"):
        train = parsers["convzoo train"]._option_string_actions[name]
        bench = parsers["convzoo bench"]._option_string_actions[name]
        assert (bench.type, bench.default, bench.metavar) == (train.type, None, train.metavar)
        assert bench.help.startswith(train.help.split(" (default")[0])
