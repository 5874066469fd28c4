"""What each command imports: ``--help`` no torch, ``list`` and ``show`` no Lightning.

Start-up time is measured in ``benchmarks/startup.py``; these tests check its
cause, robustly: each command runs in a fresh interpreter, which then reports
which of the heavy packages ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("lightning", "torchvision", "matplotlib", "scipy", "torch")

SCRIPT = """
import contextlib, io, json, sys
import convzoo.cli
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = convzoo.cli.main({argv!r})
    except SystemExit as exc:
        code = exc.code
print(json.dumps({{"code": code, "loaded": [m for m in {heavy!r} if m in sys.modules]}}))
"""

CASES = {
    ("--help",): (),
    ("--version",): (),
    ("list", "blocks"): ("torch",),
    ("list", "data"): ("torch",),
    ("show", "lenet5"): ("torch",),
}


def imported(argv: tuple[str, ...]) -> tuple[int, list[str]]:
    """The exit status of ``convzoo ARGV`` in a fresh interpreter, and the heavy packages it
    imported."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(argv=list(argv), heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    return report["code"], report["loaded"]


@pytest.mark.parametrize("argv", sorted(CASES), ids=" ".join)
def test_a_command_imports_only_what_it_needs(argv):
    code, loaded = imported(argv)
    assert code == 0
    assert loaded == list(CASES[argv]), f"convzoo {' '.join(argv)} imported {loaded}"
