"""What each command imports: ``--help`` of every subcommand and a refused setting no Lightning
(no torch, but for ``list`` and ``show``, which build), ``list`` and ``show`` no Lightning.

Start-up time is measured in ``benchmarks/startup.py``; these tests check its
cause, robustly: each command runs in a fresh interpreter, which then reports
which of the heavy packages ended up in ``sys.modules``. ``train --help`` and
``evaluate --help`` read what only Lightning and torch can write from the help
cache, made here once beforehand (``help_cache``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("lightning", "torchvision", "matplotlib", "scipy", "torch")

SCRIPT = """
import contextlib, io, json, sys
import convzoo.cli
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = convzoo.cli.main({argv!r})
    except SystemExit as exc:
        code = exc.code
print(json.dumps({{"code": code, "loaded": [m for m in {heavy!r} if m in sys.modules]}}))
"""

# argv -> (exit status, the heavy packages it may import)
CASES = {
    ("--help",): (0, ()),
    ("--version",): (0, ()),
    ("list", "blocks"): (0, ("torch",)),
    ("list", "data"): (0, ("torch",)),
    ("show", "lenet5"): (0, ("torch",)),
    **{(command, "--help"): (0, ()) for command in ("list", "show", "train", "evaluate")},
    **{(command, "--help"): (0, ()) for command in ("scan", "bench")},
    ("list", "blocks", "--help"): (0, ()),
    ("train", "lenet5", "--epochs", "-1"): (2, ()),
    ("train", "no_such_arch", "--trainer.max_steps", "3"): (2, ()),
    ("train", "lenet5", "--print_config=comments"): (2, ()),
    ("evaluate", "run", "--max-shift", "-1"): (2, ()),
    ("scan", "run", "--digits", "0"): (2, ()),
}


def imported(argv: tuple[str, ...], env: dict[str, str]) -> tuple[int, list[str]]:
    """The exit status of ``convzoo ARGV`` in a fresh interpreter, and the heavy packages it
    imported."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(argv=list(argv), heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    return report["code"], report["loaded"]


@pytest.fixture(scope="module")
def help_cache(tmp_path_factory):
    """A cache folder holding the help of ``train`` and ``evaluate``, as a first ``--help``
    leaves it."""
    env = {"XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache"))}
    for command in ("train", "evaluate"):
        assert imported((command, "--help"), env)[0] == 0
    return env


@pytest.mark.parametrize("argv", sorted(CASES), ids=" ".join)
def test_a_command_imports_only_what_it_needs(argv, help_cache):
    code, loaded = imported(argv, help_cache)
    assert (code, loaded) == (CASES[argv][0], list(CASES[argv][1])), (
        f"convzoo {' '.join(argv)} exited {code} and imported {loaded}"
    )
