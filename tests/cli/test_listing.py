"""``convzoo list`` and ``convzoo show``: the tables and the JSON of blocks, archs and specs."""

from __future__ import annotations

import json

import convzoo as cz
from tests.cli.conftest import run


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
