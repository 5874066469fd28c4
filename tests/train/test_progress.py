"""Progress display: Lightning's redrawing bar only where both output streams are terminals."""

from __future__ import annotations

import sys

import pytest

from convzoo.train.progress import Bar, EpochLines, Throughput, progress_callbacks


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize(
    ("stdout_tty", "stderr_tty", "shown"),
    [
        (True, True, Bar),
        (False, True, EpochLines),
        (True, False, EpochLines),
        (False, False, EpochLines),
    ],
)
def test_the_bar_needs_both_streams_on_a_terminal(monkeypatch, stdout_tty, stderr_tty, shown):
    monkeypatch.setattr(sys, "stdout", _Stream(stdout_tty))
    monkeypatch.setattr(sys, "stderr", _Stream(stderr_tty))
    callbacks, bar = progress_callbacks(Throughput(), show=True)
    assert [type(c) for c in callbacks] == [shown]
    assert bar is (shown is Bar)


def test_no_progress_asked_shows_none(monkeypatch):
    monkeypatch.setattr(sys, "stdout", _Stream(True))
    monkeypatch.setattr(sys, "stderr", _Stream(True))
    assert progress_callbacks(Throughput(), show=False) == ([], False)
