"""The benchmark suites shipped with convzoo, found by name: ``convzoo bench smoke``.

In a source checkout they are the files of ``benchmarks/suites/``; a wheel
carries the same folder as the data package ``convzoo/suites/`` (see
pyproject.toml), so ``convzoo bench smoke`` works from an install as from a
checkout. ``convzoo bench SUITE`` tells a file from a name by the one rule of
``spec.spec_file``: a ``.yaml`` ending, a path separator or an existing file is
a file; anything else is the name of a shipped suite. The spec files that lie
beside the suites (``tiny.yaml``, which ``smoke`` trains) are not suites: a
suite is a file with ``archs``.
"""

from __future__ import annotations

from pathlib import Path

from convzoo.bench.suite import SuiteError
from convzoo.errors import ConvzooError, did_you_mean
from convzoo.files import read_yaml
from convzoo.registry import natural_key
from convzoo.spec import spec_file


def suite_dirs() -> list[Path]:
    """The folders of the shipped suites: the wheel's, then the checkout's."""
    package = Path(__file__).resolve().parents[1]
    dirs = [package / "suites", package.parent / "benchmarks" / "suites"]
    return [d for d in dirs if d.is_dir()]


def _is_suite(path: Path) -> bool:
    try:
        data = read_yaml(path, "the suite file")
    except ConvzooError:
        return False
    return isinstance(data, dict) and "archs" in data


def suite_names() -> list[str]:
    """The names of the shipped suites, in natural order."""
    found = {p.stem for d in suite_dirs() for p in d.glob("*.yaml") if _is_suite(p)}
    return sorted(found, key=natural_key)


def suite_path(text: str) -> Path:
    """The suite file ``text`` names: a file as it is, else the shipped suite of that name."""
    path = spec_file(text)
    if path is not None:
        return path
    for folder in suite_dirs():
        candidate = folder / f"{text}.yaml"
        if candidate.is_file() and _is_suite(candidate):
            return candidate
    names = suite_names()
    raise SuiteError(
        f"unknown suite {text!r} (neither a YAML file nor a shipped suite)."
        f"{did_you_mean(text, names)} Shipped suites: {', '.join(names) or '(none)'}."
    )
