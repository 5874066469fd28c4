"""The code fingerprint every report stamps: it changes with any source file's bytes or name,
and with nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

from convzoo.train import report
from convzoo.version import code_fingerprint

PACKAGE = Path(__file__).resolve().parents[1] / "convzoo"


def _copy(tmp_path: Path, name: str) -> Path:
    return Path(
        shutil.copytree(PACKAGE, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    )


def test_the_same_source_has_the_same_fingerprint_and_an_edit_changes_it(tmp_path):
    a, b = _copy(tmp_path, "a"), _copy(tmp_path, "b")
    assert code_fingerprint(a) == code_fingerprint(b) == code_fingerprint(PACKAGE)
    (b / "errors.py").write_text((b / "errors.py").read_text() + "\n")
    assert code_fingerprint(b) != code_fingerprint(a)


def test_a_renamed_file_changes_it_and_other_files_do_not(tmp_path):
    a, b = _copy(tmp_path, "a"), _copy(tmp_path, "b")
    (b / "py.typed").write_text("changed")
    (b / "notes.txt").write_text("not source")
    assert code_fingerprint(b) == code_fingerprint(a)
    (b / "errors.py").rename(b / "errs.py")
    assert code_fingerprint(b) != code_fingerprint(a)


def test_a_run_report_stamps_the_code_its_process_loaded():
    assert code_fingerprint(PACKAGE) == report.CODE
    assert len(report.CODE) == 16 and int(report.CODE, 16) >= 0
