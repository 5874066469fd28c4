"""Helpers the cli tests share: ``main`` on an argv, with its exit status and captured output;
a help cache of their own (``XDG_CACHE_HOME``), never the user's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from convzoo.cli import main


@pytest.fixture(scope="session", autouse=True)
def help_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``$XDG_CACHE_HOME`` for these tests and the commands they start: a folder of their own."""
    folder = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        yield folder


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
