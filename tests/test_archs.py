"""Named architectures are found from a source checkout and from an installed wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
import torch

import convzoo as cz
from convzoo.archs import PATH_ENV, arch_path

ROOT = Path(__file__).resolve().parents[1]


def test_every_yaml_in_registry_is_a_named_architecture():
    files = {p.stem for p in (ROOT / "registry").glob("*.yaml")}
    assert files and files <= set(cz.arch_names())
    for name in files:
        assert cz.load_spec(name).name == name


def test_names_are_keys_not_paths():
    with pytest.raises(cz.ConvzooError, match="unknown architecture"):
        arch_path("../registry/lenet5_modern")
    with pytest.raises(cz.ConvzooError, match="(?i)did you mean 'lenet5_modern'"):
        arch_path("lenet5_moden")


def test_extra_folders_come_first(tmp_path, monkeypatch):
    (tmp_path / "mine.yaml").write_text("input: [1, 4, 4]\nlayers: [{act: relu}]\n")
    monkeypatch.setenv(PATH_ENV, str(tmp_path))
    assert "mine" in cz.arch_names()
    assert cz.load_spec("mine").name == "mine"


def test_an_architecture_has_one_name_its_files(tmp_path, monkeypatch):
    assert all(cz.load_spec(name).name == name for name in cz.arch_names())
    (tmp_path / "mine.yaml").write_text("name: other\ninput: [1, 4, 4]\nlayers: [{act: relu}]\n")
    monkeypatch.setenv(PATH_ENV, str(tmp_path))
    with pytest.raises(cz.ConvzooError, match=r"named 'other'.*Rename the file to other\.yaml"):
        cz.load_spec("mine")
    assert cz.load_spec(str(tmp_path / "mine.yaml")).name == "other"  # a file path keeps it


@pytest.mark.timeout(300)
def test_the_wheel_ships_the_registry(tmp_path, dists):
    wheel = dists.wheel
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).stem for n in names if n.startswith("convzoo/zoo/") and n.endswith(".yaml")}
    assert shipped == {p.stem for p in (ROOT / "registry").glob("*.yaml")}
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "convzoo").rglob("*.py")}
    assert modules <= set(names), f"missing from the wheel: {sorted(modules - set(names))}"

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop(PATH_ENV, None)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, importlib.resources, convzoo; "
            "files = sorted(p.name for p in importlib.resources.files('convzoo.zoo').iterdir()); "
            "print(json.dumps([convzoo.__file__, convzoo.arch_names(), files, "
            "convzoo.__version__]))",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    where, names, files, version = json.loads(result.stdout)
    assert where.startswith(str(site))
    assert set(names) == shipped
    assert {Path(f).stem for f in files if f.endswith(".yaml")} == shipped
    assert version == metadata.version("convzoo")


@pytest.mark.parametrize("package", ["convzoo.zoo", "convzoo.suites"])
def test_the_shipped_yaml_is_a_resource_in_this_install_too(package):
    """In an editable install as from a wheel: the files are a package's resources."""
    import importlib.resources

    found = {
        p.name for p in importlib.resources.files(package).iterdir() if p.name.endswith(".yaml")
    }
    assert "smoke.yaml" in found if package == "convzoo.suites" else "lenet5.yaml" in found


@pytest.mark.parametrize("arch", cz.arch_names())
def test_every_architecture_builds_runs_and_trains_a_step(arch):
    torch.manual_seed(0)
    model = cz.build(arch)
    x = torch.rand(2, *model.spec.input)
    scores = model(x)
    assert scores.shape == (2, model.spec.classes)
    loss = model.loss(scores, torch.tensor([0, 1]), x)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
