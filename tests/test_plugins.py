"""Plugins through the entry-point group convzoo.blocks, with real installed distributions.

Each test writes distributions (a package plus its ``.dist-info`` with
``entry_points.txt``) into a temporary site directory and runs convzoo in a fresh
process with that directory on ``PYTHONPATH`` -- exactly what ``pip install``
of a plugin package leaves behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from torch import nn

from convzoo.data import DATASETS, dataset_names, register_dataset
from convzoo.plugins import PluginWarning, failures, load_plugins
from convzoo.registry import Registry


def make_dist(site: Path, dist: str, entry: str, files: dict[str, str]) -> None:
    """An installed distribution ``dist`` 1.0 whose entry point is ``entry``."""
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[convzoo.blocks]\n{entry}\n")
    for rel, text in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


GOOD = """
from torch import nn
import convzoo

@convzoo.register("act", "good_act", description="from a plugin", example={})
def good_act() -> nn.Module:
    return nn.Tanh()
"""

HALF = """
from torch import nn
import convzoo

convzoo.register("act", "half_first", lambda: nn.Tanh(), description="before the error")
convzoo.register("act", "tanh", lambda: nn.ReLU(), description="replaced", override=True)
raise RuntimeError("gave up half-way")
"""

FUNC = """
from torch import nn

def register_all(registry):
    registry.register("act", "func_act", lambda: nn.Sigmoid(), description="by function")
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    make_dist(site, "good-blocks", "good = goodplug", {"goodplug/__init__.py": GOOD})
    make_dist(site, "func-blocks", "func = funcplug:register_all", {"funcplug/__init__.py": FUNC})
    make_dist(
        site,
        "broken-blocks",
        "broken = brokenplug",
        {"brokenplug/__init__.py": "import a_module_that_is_not_there\n"},
    )
    make_dist(site, "half-blocks", "half = halfplug", {"halfplug/__init__.py": HALF})
    make_dist(
        site, "syntax-blocks", "syntax = syntaxplug", {"syntaxplug/__init__.py": "def oops(:\n"}
    )
    make_dist(
        site,
        "dup-blocks",
        "dup = dupplug",
        {
            "dupplug/__init__.py": (
                "import convzoo\nfrom torch import nn\n"
                "convzoo.register('act', 'relu', lambda: nn.ReLU())\n"
                "convzoo.register('act', 'dup_extra', lambda: nn.ReLU())\n"
            )
        },
    )
    return site


def run(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "CONVZOO_NO_PLUGINS"}
    environ["PYTHONPATH"] = os.pathsep.join([str(site), environ.get("PYTHONPATH", "")])
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "convzoo.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def test_broken_plugins_are_reported_once_and_the_rest_works(site):
    result = run(site, "list", "blocks", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    blocks = {(b["family"], b["name"]): b for b in listing["blocks"]}
    assert blocks[("act", "good_act")]["source"] == "good-blocks 1.0"
    assert blocks[("act", "func_act")]["source"] == "func-blocks 1.0"
    assert ("filter", "conv") in blocks and ("act", "relu") in blocks
    warnings = [ln for ln in result.stderr.splitlines() if "failed to load" in ln]
    assert len(warnings) == 3, result.stderr
    failed = {f["name"]: f for f in listing["plugin_failures"]}
    assert set(failed) == {"broken", "half", "syntax"}
    assert failed["half"] == {
        "name": "half",
        "entry_point": "halfplug",
        "distribution": "half-blocks 1.0",
        "error": "RuntimeError: gave up half-way",
    }
    assert "ModuleNotFoundError" in failed["broken"]["error"]
    # the plugin that raised half-way left nothing behind, not even its override
    assert ("act", "half_first") not in blocks
    assert blocks[("act", "tanh")]["source"] == "convzoo.blocks.nonlinear"
    text = "\n".join(warnings)
    assert text.count("broken-blocks 1.0") == 1 and "ModuleNotFoundError" in text
    assert text.count("syntax-blocks 1.0") == 1 and "SyntaxError" in text
    # a plugin redefining a built-in name loses that name only, told once with both sides
    clashes = [ln for ln in result.stderr.splitlines() if "defined twice" in ln]
    assert clashes == [
        "convzoo: warning: act block 'relu' is defined twice: kept convzoo's own "
        "(convzoo.blocks.nonlinear), not the one of plugin 'dup' from distribution "
        "'dup-blocks 1.0' (dupplug), which loses only this name (a plugin never replaces a "
        "block of convzoo's own)"
    ]
    assert blocks[("act", "relu")]["source"] == "convzoo.blocks.nonlinear"
    assert blocks[("act", "dup_extra")]["source"] == "dup-blocks 1.0"


def test_a_spec_needing_a_missing_block_names_the_broken_plugin(site, tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [1, 8, 8]\nlayers:\n  - {act: broken_act}\n")
    result = run(site, "show", str(spec))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    error = next(ln for ln in result.stderr.splitlines() if ln.startswith("convzoo: error"))
    assert "broken_act" in error and "broken-blocks 1.0" in error and "brokenplug" in error


def test_a_spec_can_use_a_plugin_block(site, tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text(
        "input: [1, 8, 8]\nclasses: 3\nlayers:\n"
        "  - {filter: conv, out: 2, kernel: 3}\n  - {act: good_act}\n"
        "  - {head: linear}\n"
    )
    result = run(site, "show", str(spec), "--json")
    assert result.returncode == 0, result.stderr
    assert [layer["block"] for layer in json.loads(result.stdout)["layers"]] == [
        "filter.conv",
        "act.good_act",
        "head.linear",
    ]


def test_your_own_block_registered_before_the_plugins_load_wins_and_says_so(site, tmp_path):
    script = tmp_path / "mine.py"
    script.write_text(
        "import convzoo as cz\nfrom torch import nn\n\n"
        "@cz.register('act', 'good_act', description='mine')\n"
        "class Mine(nn.Module):\n    pass\n\n"
        "print(cz.get_block('act', 'good_act').description)\n"
        "print(cz.get_block('act', 'func_act').source)\n"
    )
    environ = {k: v for k, v in os.environ.items() if k != "CONVZOO_NO_PLUGINS"}
    environ["PYTHONPATH"] = os.pathsep.join([str(site), environ.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-W", "always::UserWarning", str(script)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["mine", "func-blocks", "1.0"]
    told = (
        "act block 'good_act' is defined twice: kept yours (registered by __main__), not the "
        "one of plugin 'good' from distribution 'good-blocks 1.0' (goodplug), which loses only "
        "this name (what your code registers before the plugins load wins over a plugin)"
    )
    assert result.stderr.count(told) == 1, result.stderr


def test_env_switch_turns_plugins_off(site):
    result = run(site, "list", "blocks", "--json", CONVZOO_NO_PLUGINS="1")
    assert result.returncode == 0
    listing = json.loads(result.stdout)
    names = {b["name"] for b in listing["blocks"]}
    assert "good_act" not in names and "relu" in names
    assert listing["plugin_failures"] == []
    assert "failed to load" not in result.stderr


class _EntryPoint:
    def __init__(self, error: BaseException) -> None:
        self.name, self.value, self.dist, self.error = "boom", "boom:x", None, error

    def load(self):
        raise self.error


@pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemExit(3)])
def test_interrupts_are_never_swallowed(monkeypatch, error):
    monkeypatch.setattr(metadata, "entry_points", lambda group: [_EntryPoint(error)])
    with pytest.raises(type(error)):
        load_plugins(Registry())


def test_failure_in_process_is_a_warning_and_a_hint(monkeypatch):
    monkeypatch.setattr(metadata, "entry_points", lambda group: [_EntryPoint(ImportError("nope"))])
    reg = Registry()
    with pytest.warns(UserWarning, match="nope"):
        failures = load_plugins(reg)
    assert len(failures) == 1 and "unknown distribution" in failures[0].describe()
    with pytest.raises(LookupError, match="failed to load.*nope"):
        reg.get("act", "whatever")


class _HalfWay:
    """An entry point whose function registers a block, replaces one, then raises."""

    name, value, dist = "half", "halfplug:setup", None

    def load(self):
        def setup(registry: Registry) -> None:
            registry.register("act", "first", nn.Tanh, description="before the error")
            registry.register("act", "kept", nn.Sigmoid, description="replaced", override=True)
            registry.add_family("extra")
            register_dataset("half_data", description="before the error")(lambda d, dl: None)
            raise RuntimeError("gave up half-way")

        return setup


def test_a_plugin_that_raises_half_way_leaves_nothing_registered(monkeypatch):
    monkeypatch.setattr(metadata, "entry_points", lambda group: [_HalfWay()])
    reg = Registry()
    reg.register("act", "kept", nn.ReLU, description="there before")
    with pytest.warns(UserWarning, match="gave up half-way"):
        found = load_plugins(reg)
    assert [f.to_dict() for f in found] == [
        {
            "name": "half",
            "entry_point": "halfplug:setup",
            "distribution": "unknown distribution",
            "error": "RuntimeError: gave up half-way",
        }
    ]
    assert failures(reg) == found
    assert ("act", "first") not in reg
    assert reg.get("act", "kept").description == "there before"
    assert "extra" not in reg.families
    assert "half_data" not in dataset_names()


class _Dist:
    def __init__(self, name: str) -> None:
        self.metadata, self.version = {"Name": name}, "1.0"


class _Plugin:
    """An entry point of distribution ``NAME-blocks`` whose function registers act blocks and
    datasets by name, every one with ``override=True``."""

    def __init__(self, name: str, blocks: list[str], datasets: tuple[str, ...] = ()) -> None:
        self.name, self.value, self.dist = name, f"{name}plug:setup", _Dist(f"{name}-blocks")
        self.blocks, self.datasets = blocks, datasets

    def load(self):
        def setup(registry: Registry) -> None:
            for block in self.blocks:
                registry.register("act", block, nn.Tanh, description=self.name, override=True)
            for data in self.datasets:
                register_dataset(data, description=self.name)(lambda d, dl: None)

        return setup


def test_two_plugins_defining_one_name_lose_only_that_name(monkeypatch, recwarn):
    beta = _Plugin("beta", ["shared", "beta_only"])
    alpha = _Plugin("alpha", ["alpha_only", "shared"])
    monkeypatch.setattr(metadata, "entry_points", lambda group: [beta, alpha])
    reg = Registry()
    assert load_plugins(reg) == []
    assert {b.name: b.description for b in reg.list(family="act")} == {
        "alpha_only": "alpha",
        "beta_only": "beta",
        "shared": "alpha",
    }
    assert reg.get("act", "shared").plugin == (
        "plugin 'alpha' from distribution 'alpha-blocks 1.0' (alphaplug:setup)"
    )
    assert [str(w.message) for w in recwarn.list if w.category is PluginWarning] == [
        "act block 'shared' is defined twice: kept the one of plugin 'alpha' from distribution "
        "'alpha-blocks 1.0' (alphaplug:setup), not the one of plugin 'beta' from distribution "
        "'beta-blocks 1.0' (betaplug:setup), which loses only this name (between two plugins, "
        "the one whose entry-point name sorts first wins)"
    ]


def test_a_plugin_never_replaces_your_block_or_a_built_in_dataset(monkeypatch, recwarn):
    class Yours(nn.Module):
        pass

    monkeypatch.setattr(
        metadata,
        "entry_points",
        lambda group: [_Plugin("gamma", ["yours", "theirs"], ("mnist", "gamma_data"))],
    )
    reg = Registry()
    reg.register("act", "yours", Yours, description="mine")
    try:
        assert load_plugins(reg) == []
        assert "gamma_data" in dataset_names()
    finally:
        DATASETS.unregister("data", "gamma_data")
    assert reg.get("act", "yours").obj is Yours and reg.get("act", "theirs").plugin is not None
    assert DATASETS.get("data", "mnist").source == "convzoo.data.sources"
    plugin = "plugin 'gamma' from distribution 'gamma-blocks 1.0' (gammaplug:setup)"
    assert [str(w.message) for w in recwarn.list if w.category is PluginWarning] == [
        f"act block 'yours' is defined twice: kept yours (registered by {__name__}), not the "
        f"one of {plugin}, which loses only this name (what your code registers before the "
        "plugins load wins over a plugin)",
        "dataset 'mnist' is defined twice: kept convzoo's own (convzoo.data.sources), not the "
        f"one of {plugin}, which loses only this name (a plugin never replaces a block of "
        "convzoo's own)",
    ]


def test_a_plugin_that_registers_a_name_twice_itself_fails_as_a_whole(monkeypatch, recwarn):
    class Twice(_Plugin):
        def load(self):
            def setup(registry: Registry) -> None:
                registry.register("act", "twice", nn.Tanh)
                registry.register("act", "twice", nn.ReLU)

            return setup

    monkeypatch.setattr(metadata, "entry_points", lambda group: [Twice("twice", [])])
    reg = Registry()
    (failure,) = load_plugins(reg)
    assert "already registered" in failure.error and ("act", "twice") not in reg
    assert not any("defined twice" in str(w.message) for w in recwarn.list)
