"""``convzoo list`` and ``convzoo show``: the tables and the JSON of blocks, archs and specs."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest
import yaml

import convzoo as cz
from convzoo.archs import arch_path
from convzoo.data import dataset_names
from tests.cli.conftest import run


def in_a_terminal(*argv: str, columns: int) -> str:
    """What ``convzoo ARGV`` shows in a terminal ``columns`` wide (a pseudo-terminal)."""
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb"}
    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "convzoo.cli", *argv]
    with subprocess.Popen(command, stdout=follower, stderr=subprocess.DEVNULL, env=env) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 1 << 16)
            except OSError:  # EIO: the command has ended and closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=120) == 0
    os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


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


def test_the_verbose_table_of_blocks_shows_their_references_and_sources(capsys):
    code, out, _ = run(capsys, "list", "blocks", "--family", "capsule", "--verbose")
    assert code == 0 and "reference" in out and "source" in out
    assert "Sabour" in out and "convzoo.blocks.capsule" in out  # capsule.routing's
    code, out, _ = run(capsys, "list", "blocks", "--family", "capsule")
    assert code == 0 and "Sabour" not in out and "convzoo.blocks.capsule" not in out


@pytest.mark.parametrize(
    ("what", "names"),
    [
        (["blocks"], lambda: [[b.family, b.name] for b in cz.list_blocks()]),
        (["archs", "lenet5*"], lambda: [[n] for n in cz.list_archs("lenet5*")]),  # 3 lines before
        (["data"], lambda: [[n] for n in dataset_names()]),
    ],
    ids=["blocks", "archs", "data"],
)
def test_a_listing_fits_a_terminal_of_100_columns_a_line_or_two_each(what, names):
    lines = in_a_terminal("list", *what, columns=100).splitlines()
    assert max(map(len, lines)) <= 100, "\n".join(lines)
    starts = [i for i, line in enumerate(lines) if i > 0 and line[:2].strip()]
    expected = names()
    assert [lines[i].split()[: len(expected[0])] for i in starts] == expected
    assert all(b - a <= 2 for a, b in zip(starts, [*starts[1:], len(lines)])), "\n".join(lines)


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


@pytest.mark.parametrize("name", cz.arch_names())
def test_show_yaml_prints_the_shipped_file_which_loads_back_as_the_same_spec(
    capsys, tmp_path, name
):
    code, out, err = run(capsys, "show", name, "--yaml")
    assert code == 0, err
    assert out == arch_path(name).read_text(encoding="utf-8")  # comments and all
    copy = tmp_path / "copy.yaml"
    copy.write_text(out, encoding="utf-8")
    assert cz.load_spec(copy) == cz.load_spec(name)


def test_show_yaml_of_a_swapped_spec_loads_back_as_it(capsys):
    code, out, err = run(capsys, "show", "lenet5_modern", "--swap", "act=tanh", "--yaml")
    assert code == 0, err
    swapped = cz.apply_swaps(cz.load_spec("lenet5_modern"), {"act": "tanh"})
    assert cz.Spec.from_dict(yaml.safe_load(out)) == swapped
    assert "act: tanh" in out and "act: relu" not in out


def test_show_takes_one_form_of_output(capsys):
    code, out, err = run(capsys, "show", "lenet5", "--yaml", "--json")
    assert (code, out) == (2, "")
    assert err == ("convzoo: error: show: --json and --yaml are two forms of output; give one\n")


def test_a_description_in_brackets_is_printed_as_written_not_as_markup(capsys):
    """rich reads ``[i]`` as a style tag; a table cell is plain text."""
    _, out, _ = run(capsys, "list", "blocks", "true_conv")
    assert "y[i] = sum_j w[j] x[i - j]" in out
