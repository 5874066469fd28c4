"""Helpers the cli tests share: ``main`` on an argv, with its exit status and captured output."""

from __future__ import annotations

from convzoo.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
