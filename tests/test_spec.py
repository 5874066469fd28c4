"""The spec format: parsing, validation messages, and exact round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import convzoo as cz
from convzoo.errors import REPR_LIMIT, short_repr
from convzoo.files import MAX_DEPTH, MAX_NODES
from convzoo.spec import (
    MAX_CLASSES,
    MAX_LAYERS,
    MAX_REPEAT,
    Block,
    Repeat,
    Spec,
    SpecError,
    load_spec,
    parse,
)
from tests.bombs import alias_bomb

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
        (  # an rbf head of a million classes took minutes and gigabytes to show
            {"input": [1, 8, 8], "classes": 10**6, "layers": [{"head": "rbf"}]},
            f"classes must be a positive integer of at most {MAX_CLASSES:,}, got 1000000",
        ),
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


# -- resource limits -----------------------------------------------------------------


def nested_repeats(depth: int) -> dict:
    layer: dict = {"act": "relu"}
    for _ in range(depth):
        layer = {"repeat": 1, "layers": [layer]}
    return layer


@pytest.mark.parametrize(
    "layers",
    [
        "[{{act: relu, slope: {bomb}}}]",  # as a block argument
        "{bomb}",  # as the list of layers
        "[{{slope: {bomb}}}]",  # in a layer without a family key
        "[{{residual: identity, layers: {bomb}}}]",  # as a body
    ],
)
def test_an_alias_bomb_is_refused_before_it_is_expanded(tmp_path: Path, layers):
    path = tmp_path / "bomb.yaml"
    path.write_text(f"input: [1, 8, 8]\nlayers: {layers.format(bomb=alias_bomb())}\n")
    assert path.stat().st_size < 600
    with pytest.raises(SpecError, match=f"more than {MAX_NODES} values") as err:
        load_spec(path)
    assert "layers." in str(err.value) and len(str(err.value)) < 1000


def test_the_value_count_is_exact():
    # the top mapping, "input" and its 3 items, "layers", the layer, "act" and "slope"
    filler = 1 + 4 + 1 + 1 + 2
    fits = {"input": [1, 8, 8], "layers": [{"act": "relu", "slope": [0] * (MAX_NODES - filler)}]}
    parse(fits)
    fits["layers"][0]["slope"].append(0)
    with pytest.raises(SpecError, match=rf"layers\.0\.slope\.{MAX_NODES - filler}: .*{MAX_NODES}"):
        parse(fits)


def test_a_cyclic_mapping_is_refused():
    layer: dict = {"act": "relu"}
    layer["slope"] = [layer]
    with pytest.raises(SpecError, match=f"nested more than {MAX_DEPTH} levels deep"):
        parse({"input": [1, 8, 8], "layers": [layer]})


def test_deeply_nested_values_are_refused_with_their_path():
    value: list = [0]
    for _ in range(MAX_DEPTH):
        value = [value]
    with pytest.raises(SpecError, match=rf"layers\.0\.slope\.0\.0.*{MAX_DEPTH} levels"):
        parse({"input": [1, 8, 8], "layers": [{"act": "relu", "slope": value}]})


@pytest.mark.parametrize("depth", [150, 1000])
def test_deeply_nested_repeats_are_refused(depth):
    with pytest.raises(SpecError, match=rf"layers\.0\.layers\.0.*{MAX_DEPTH} levels"):
        parse({"input": [1, 8, 8], "layers": [nested_repeats(depth)]})


def test_nested_repeats_within_the_depth_limit_parse():
    parse({"input": [1, 8, 8], "layers": [nested_repeats(30)]})


def test_a_huge_repeat_count_is_refused():
    with pytest.raises(SpecError, match=rf"layers\.1: repeat.*at most {MAX_REPEAT}"):
        parse(
            {
                "input": [1, 8, 8],
                "layers": [{"act": "relu"}, {"repeat": 10**8, "layers": [{"act": "relu"}]}],
            }
        )


def test_nested_repeats_whose_product_is_huge_are_refused():
    layer = {"act": "relu"}
    for _ in range(5):
        layer = {"repeat": 100, "layers": [layer]}
    with pytest.raises(
        SpecError, match=rf"spec: layers\.0\.layers\.0\.layers\.0: .*{MAX_LAYERS} layers"
    ):
        parse({"input": [1, 8, 8], "layers": [layer]})


def test_the_layer_count_is_exact():
    body = [{"act": "relu"}, {"residual": "identity", "layers": [{"act": "relu"}]}]
    spec = {"input": [1, 8, 8], "layers": [{"repeat": MAX_LAYERS // 3, "layers": body}]}
    parse(spec)  # 3 layers a copy
    spec["layers"].append({"act": "relu"})
    parse(spec)
    spec["layers"].append({"act": "relu"})
    with pytest.raises(SpecError, match=rf"layers\.2: .*{MAX_LAYERS} layers"):
        parse(spec)


def test_short_repr_is_bounded_and_does_not_expand_shared_values():
    shared: list = ["x"] * 9
    for _ in range(9):
        shared = [shared] * 9
    assert len(short_repr(shared)) <= REPR_LIMIT
    assert short_repr(shared).endswith("...")
    assert short_repr({"a": [1, 2.5, None, True]}) == "{'a': [1, 2.5, None, True]}"
    assert short_repr((1, "b")) == "(1, 'b')"
    assert len(short_repr("y" * 10**6)) == REPR_LIMIT
    assert "digits" in short_repr(10**5000)


@pytest.mark.parametrize(
    "data",
    [
        {"input": [1, 8, 8], "layers": ["relu" * 10**5]},
        {"input": [1, 8, 8], "layers": [{"slope": "x" * 10**5}]},
        {"input": [1, 8, 8], "layers": [{"act": "relu", "slope": {1: 0, "x" * 10**5: 0}}]},
        {"input": [1, 8, 8], "layers": [{"act": "relu", "slope": set(range(10**4))}]},
        {"input": [1, 8, 8], "layers": [{"repeat": "x" * 10**5, "layers": [{"act": "relu"}]}]},
        {"input": [1, 8, 8], "layers": [{"act": "relu", "k" * 10**5: object()}]},
        {"input": [1, 8, 8], "layers": [{"act": ["x" * 10**5]}]},
        {"input": [1, 8, 8], "layers": [{"act": "relu", ("k" * 10**5,): 1}]},
        {
            "input": [1, 8, 8],
            "layers": [{"repeat": 2, "layers": [{"act": "relu"}], "x" * 10**5: 1}],
        },
        {"input": [1, 8, 8], "layers": [{"act": "relu"}], "x" * 10**5: 1},
        {"input": [1] * 10**4, "layers": [{"act": "relu"}]},
        {"input": [1, 8, 8], "classes": "x" * 10**5, "layers": [{"act": "relu"}]},
    ],
)
def test_messages_never_embed_unbounded_user_data(data):
    with pytest.raises(SpecError) as err:
        parse(data)
    assert len(str(err.value)) < 1000, str(err.value)[:2000]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("layers: " + "[" * 2000 + "]" * 2000 + "\n", "nested too deeply to read"),
        ("input: [1, " + "9" * 5000 + "]\nlayers: [{act: relu}]\n", "not valid YAML"),
    ],
)
def test_yaml_too_deep_or_too_long_to_read_is_one_error(tmp_path, text, message):
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=message):
        load_spec(path)
