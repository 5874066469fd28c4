"""What the sdist and the wheel carry, and that each works where it is unpacked.

Both come from the session's one build (``dists`` in conftest.py). The wheel
carries the licence, ``py.typed`` and the shipped suites, and runs ``convzoo
bench smoke`` outside the tree; the sdist carries the licence, the whole
``tests/`` tree, whose tests collect where it is unpacked, and ``benchmarks/``,
against whose committed results they run there.
"""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from convzoo.bench import load_suite
from tests.data.conftest import write_idx_set

ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "benchmarks" / "suites"
RESULTS = ROOT / "benchmarks" / "results"


def wheel_metadata(wheel: Path) -> email.message.Message:
    """The wheel's METADATA, parsed."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


def test_the_wheel_carries_the_licence_py_typed_and_the_suites(dists):
    names = set(zipfile.ZipFile(dists.wheel).namelist())
    assert "convzoo/py.typed" in names
    licences = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert len(licences) == 1
    assert "MIT License" in zipfile.ZipFile(dists.wheel).read(licences[0]).decode()
    shipped = {Path(n).name for n in names if n.startswith("convzoo/suites/")}
    assert shipped == {"__init__.py", *(p.name for p in SUITES.glob("*.yaml"))}
    meta = wheel_metadata(dists.wheel)
    assert meta["License-Expression"] == "MIT"
    assert "Typing :: Typed" in meta.get_all("Classifier")


def test_the_wheel_requires_what_train_help_reads(dists):
    # jsonargparse writes Trainer's argument descriptions (convzoo train --help) only with it
    required = wheel_metadata(dists.wheel).get_all("Requires-Dist")
    assert any(r.replace("_", "-").startswith("docstring-parser") for r in required), required


def test_the_sdist_carries_the_licence_and_the_whole_tests_tree(dists):
    with tarfile.open(dists.sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert {"LICENSE", "README.md", "CONTRIBUTING.md", "convzoo/py.typed"} <= names
    tests = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("*.py")}
    assert {t for t in tests if t.count("/") > 1}, "tests/ has no subfolders to check"
    assert tests <= names, f"missing from the sdist: {sorted(tests - names)}"
    assert {f"benchmarks/suites/{p.name}" for p in SUITES.glob("*.yaml")} <= names
    results = {p.relative_to(ROOT).as_posix() for p in RESULTS.rglob("*") if p.is_file()}
    assert results and results <= names, f"missing: {sorted(results - names)[:5]}"


def test_the_sdist_tests_collect(dists, tmp_path):
    with tarfile.open(dists.sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    unpacked = next(tmp_path.glob("convzoo-*"))
    result = _pytest_in(unpacked, "--collect-only", timeout=240)
    collected = {line.split("::")[0] for line in result.stdout.splitlines() if "::" in line}
    expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("test_*.py")}
    assert collected == expected
    # The tests that read files beside the package: the committed results and the docs.
    reading = ["tests/bench/test_committed_results.py", "tests/bench/test_report.py"]
    _pytest_in(unpacked, *reading, timeout=600)


def _pytest_in(folder: Path, *args: str, timeout: int) -> subprocess.CompletedProcess:
    """``pytest -q ARGS`` run in ``folder``, which must pass."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_bench_finds_the_shipped_suites_in_an_installed_wheel(dists, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(dists.wheel).extractall(site)
    script = (
        "import sys; from convzoo.bench import suite_path; print(suite_path('smoke')); "
        "from convzoo.cli import main; sys.exit(main(['bench', 'smoke', '--list']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    where, *cells = result.stdout.splitlines()
    assert Path(where) == site / "convzoo" / "suites" / "smoke.yaml"
    assert cells == [cell.id for cell in load_suite(SUITES / "smoke.yaml").cells]


def test_a_reproduction_runs_from_an_installed_wheel_on_the_data_dir_given(dists, tmp_path):
    """README's ``convzoo bench reproduce-hyper --data-dir DIR``, outside the tree, on stand-in
    MNIST files whose sums the command registers as MNIST's (as tests/data do), one epoch: the
    shipped suite names no folder of any machine, and every cell reads DIR."""
    site, data = tmp_path / "site", tmp_path / "mnist"
    zipfile.ZipFile(dists.wheel).extractall(site)
    sums = write_idx_set(data, n_train=256)  # one batch of the recipe's 256
    script = (
        "import sys; import convzoo; print(convzoo.__file__); from convzoo.data import sources; "
        f"sources.MNIST_SHA256.update({sums!r}); "
        "from convzoo.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    argv = ["bench", "reproduce-hyper", "--data-dir", str(data), "--epochs", "1"]
    result = subprocess.run(
        [sys.executable, "-c", script, *argv, "--out", "out", "--accelerator", "cpu"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"},
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert Path(result.stdout.splitlines()[0]) == site / "convzoo" / "__init__.py"
    cells = json.loads((tmp_path / "out" / "results.json").read_text())["cells"]
    assert len(cells) == len(load_suite(SUITES / "reproduce-hyper.yaml").cells)
    for cell in cells:
        report = json.loads((tmp_path / "out" / cell["run_dir"] / "report.json").read_text())
        assert cell["status"] == "ok" and report["config"]["data_dir"] == str(data)
