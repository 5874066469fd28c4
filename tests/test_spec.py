"""The spec format: parsing, validation messages, and exact round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import convzoo as cz
from convzoo.spec import Block, Repeat, Spec, SpecError, load_spec, parse

NET = {
    "name": "tiny",
    "description": "a tiny net",
    "input": [1, 12, 12],
    "classes": 10,
    "layers": [
        {"filter": "conv", "out": 4, "kernel": [3, 3], "padding": "same"},
        {"act": "relu"},
        {
            "residual": "identity",
            "layers": [{"filter": "conv", "out": 4, "kernel": 3, "padding": 1}],
        },
        {"repeat": 2, "layers": [{"norm": "batch"}, {"act": "relu"}]},
        {"head": "linear", "hidden": [8]},
    ],
}


def test_parse_builds_nodes():
    spec = parse(NET)
    assert spec.name == "tiny" and spec.input == (1, 12, 12) and spec.dims == 2
    first = spec.layers[0]
    assert first == Block("filter", "conv", {"out": 4, "kernel": [3, 3], "padding": "same"})
    assert isinstance(spec.layers[3], Repeat) and spec.layers[3].times == 2
    assert spec.layers[2].layers[0].key == "filter.conv"


def test_round_trip_dict_and_yaml_exactly():
    spec = parse(NET)
    assert spec.to_dict() == NET
    assert parse(spec.to_dict()) == spec
    assert yaml.safe_load(spec.to_yaml()) == NET
    assert parse(yaml.safe_load(spec.to_yaml())) == spec


def test_file_round_trip(tmp_path: Path):
    path = tmp_path / "tiny.yaml"
    path.write_text(parse(NET).to_yaml())
    assert load_spec(path) == parse(NET)
    assert load_spec(str(path)) == parse(NET)


def test_a_spec_comes_from_a_name_a_file_a_dict_or_a_spec():
    by_name = load_spec("lenet5_modern")
    assert by_name.name == "lenet5_modern"
    assert load_spec(by_name.to_dict()) == by_name
    assert load_spec(by_name) is by_name


def test_name_defaults_to_the_file_stem(tmp_path: Path):
    path = tmp_path / "stemmed.yaml"
    path.write_text("input: [1, 4]\nlayers: [{act: relu}]\n")
    assert load_spec(path).name == "stemmed" and load_spec(path).dims == 1


def test_python_tags_fail_and_run_nothing(tmp_path: Path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.yaml"
    path.write_text(
        f"input: !!python/object/apply:os.system ['touch {marker}']\nlayers: [{{act: relu}}]\n"
    )
    with pytest.raises(SpecError, match=r"line 1.*safe loader"):
        load_spec(path)
    assert not marker.exists()


def test_malformed_yaml_names_the_line(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("input: [1, 8, 8]\nlayers:\n  - {filter: conv\n")
    with pytest.raises(SpecError, match=r"bad.yaml line \d+: not valid YAML"):
        load_spec(path)


def test_empty_file(tmp_path: Path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    with pytest.raises(SpecError, match="empty"):
        load_spec(path)


def test_missing_file_is_a_spec_error(tmp_path: Path):
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ({"filter": "conv", "act": "relu"}, "exactly one family key.*'filter', 'act'"),
        ({"out": 4}, "exactly one family key.*found none"),
        ({"filtr": "conv"}, "(?i)did you mean 'filter'"),
        ({"act": 3}, "act must name a block"),
        ("relu", "must be a mapping"),
        ({"repeat": 0, "layers": [{"act": "relu"}]}, "positive integer"),
        ({"repeat": 2}, "needs a 'layers' list"),
        ({"repeat": 2, "layers": [{"act": "relu"}], "out": 3}, "takes only"),
        ({"act": "relu", "slope": object()}, "not plain data"),
        ({"residual": "identity", "layers": []}, r"layers.0.layers is empty"),
    ],
)
def test_bad_layers_are_named_by_path(layer, message):
    with pytest.raises(SpecError, match=message) as err:
        parse({"input": [1, 8, 8], "layers": [layer]})
    assert "layers.0" in str(err.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"input": [1, 8, 8], "layers": []}, "empty"),
        ({"input": [1, 8, 8]}, "no 'layers'"),
        ({"layers": [{"act": "relu"}]}, "no 'input'"),
        ({"input": [8], "layers": [{"act": "relu"}]}, r"\[C, L\].*\[C, H, W\]"),
        ({"input": [1, 2, 8, 8], "layers": [{"act": "relu"}]}, r"\[C, H, W\]"),
        ({"input": [1, 0, 8], "layers": [{"act": "relu"}]}, "positive"),
        ({"input": [1, 8, 8], "classes": 0, "layers": [{"act": "relu"}]}, "classes"),
        (
            {"input": [1, 8, 8], "layer": [], "layers": [{"act": "relu"}]},
            "(?i)did you mean 'layers'",
        ),
        ([1, 2], "must be a mapping"),
    ],
)
def test_bad_specs(data, message):
    with pytest.raises(SpecError, match=message):
        parse(data)


# -- round trip of random specs ---------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 99),
    st.floats(-2, 2, allow_nan=False),
    st.text("abcxyz_", min_size=1, max_size=6),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
arg_names = st.text("abcdefgh_", min_size=1, max_size=6).filter(
    lambda s: s not in cz.FAMILIES and s not in ("layers", "repeat")
)


def layer_lists(depth: int):
    block = st.builds(
        lambda fam, name, args: {fam: name, **args},
        st.sampled_from(cz.FAMILIES),
        st.text("abcdefghij_", min_size=1, max_size=8),
        st.dictionaries(arg_names, values, max_size=3),
    )
    if depth == 0:
        return st.lists(block, min_size=1, max_size=3)
    nested = layer_lists(depth - 1)
    repeat = st.builds(lambda n, body: {"repeat": n, "layers": body}, st.integers(1, 4), nested)
    body = st.builds(lambda b, inner: {**b, "layers": inner}, block, nested)
    return st.lists(st.one_of(block, repeat, body), min_size=1, max_size=3)


@settings(max_examples=60, deadline=None)
@given(
    layers=layer_lists(2),
    shape=st.lists(st.integers(1, 64), min_size=2, max_size=3),
    classes=st.one_of(st.none(), st.integers(1, 100)),
)
def test_random_specs_round_trip_through_yaml(layers, shape, classes):
    data = {"name": "random", "input": shape, "layers": layers}
    if classes is not None:
        data["classes"] = classes
    spec = parse(data)
    assert spec.to_dict() == data
    again = parse(yaml.safe_load(spec.to_yaml()))
    assert again == spec and isinstance(again, Spec)
