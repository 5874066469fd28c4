"""The ``convzoo`` command: tables, JSON, and exit status 2 with one message for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import convzoo as cz
from convzoo.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_blocks_json_has_the_documented_keys(capsys):
    code, out, _ = run(capsys, "list", "blocks", "--json")
    assert code == 0
    listing = json.loads(out)
    assert set(listing) == {"blocks", "plugin_failures"}
    assert isinstance(listing["plugin_failures"], list)
    blocks = listing["blocks"]
    assert {(b["family"], b["name"]) for b in blocks} == {
        (b.family, b.name) for b in cz.list_blocks()
    }
    assert {"family", "name", "description", "dims", "source"} <= set(blocks[0])


def test_list_blocks_filters_by_pattern_and_family(capsys):
    _, out, _ = run(capsys, "list", "blocks", "av*", "--json")
    assert {b["name"] for b in json.loads(out)["blocks"]} == {"avg"}
    _, out, _ = run(capsys, "list", "blocks", "--family", "pool", "--json")
    assert {b["family"] for b in json.loads(out)["blocks"]} == {"pool"}
    code, out, _ = run(capsys, "list", "blocks")
    assert code == 0 and "conv" in out and "description" in out


def test_the_text_table_of_blocks_shows_their_references(capsys):
    code, out, _ = run(capsys, "list", "blocks", "--family", "capsule")
    assert code == 0 and "reference" in out
    assert "Sabour" in out  # capsule.routing's reference


def test_list_archs(capsys):
    code, out, _ = run(capsys, "list", "archs", "--json")
    assert code == 0
    archs = {a["name"]: a for a in json.loads(out)}
    assert set(archs) == set(cz.arch_names())
    assert archs["lenet5_modern"]["params"] == cz.summary("lenet5_modern").params
    _, out, _ = run(capsys, "list", "archs")
    assert "lenet5_modern" in out


def test_show_json_and_table(capsys):
    code, out, _ = run(capsys, "show", "lenet5_modern", "--json")
    data = json.loads(out)
    recipe = data.pop("recipe")
    assert code == 0 and data == cz.summary("lenet5_modern").to_dict()
    assert recipe["optimizer"] == "adamw" and "activatedgeek" in recipe["source"]
    code, out, _ = run(capsys, "show", "lenet5_modern", "--swap", "pool=avg")
    assert code == 0 and "pool.avg" in out and "total" in out
    assert "recipe (" in out and "adamw" in out


BAD = {
    "unknown name": ("show", "lenet6"),
    "unknown swap": ("show", "lenet5_modern", "--swap", "act=rleu"),
    "malformed swap": ("show", "lenet5_modern", "--swap", "act"),
    "malformed yaml": "input: [1, 8\nlayers: [\n",
    "shape mismatch": "input: [1, 4, 4]\nlayers:\n  - {filter: conv, out: 2, kernel: 5}\n",
    "unknown argument": "input: [1, 8, 8]\nlayers:\n  - {filter: conv, out: 2, size: 1}\n",
    "python tag": "input: !!python/name:os.system\nlayers: []\n",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_one_message(capsys, tmp_path: Path, case):
    argv = BAD[case]
    if isinstance(argv, str):
        path = tmp_path / "spec.yaml"
        path.write_text(argv)
        argv = ("show", str(path))
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("convzoo: error: ") and "Traceback" not in err
    assert err.count("convzoo: error") == 1


def test_debug_shows_the_traceback(capsys):
    code, _, err = run(capsys, "show", "lenet6", "--debug")
    assert code == 2 and "Traceback" in err and "convzoo: error" in err


def test_the_installed_command_runs():
    exe = Path(sys.executable).with_name("convzoo")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "convzoo.cli"]
    result = subprocess.run([*command, "show", "nope"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "did you mean" in result.stderr.lower() or "Available architectures" in result.stderr
    assert "Traceback" not in result.stderr
