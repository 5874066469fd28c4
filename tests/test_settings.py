"""``convzoo.settings``: the declaration machinery, over any settings dataclass."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from convzoo import settings as declared
from convzoo.errors import ConvzooError
from convzoo.settings import AT_LEAST_ONE, setting


def _no_thirteen(value: tuple[float, ...]) -> str | None:
    return "13 is not a size" if 13 in value else None


@dataclass(frozen=True)
class Example:
    sizes: tuple[float, ...] = setting((1.0, 2.0), "sizes", check=_no_thirteen)
    count: int = setting(3, "how many", rule=AT_LEAST_ONE)
    mode: str = setting("a", "which", choices=("a", "b"))
    names: list[str] = setting([], "names")

    def __post_init__(self) -> None:
        declared.check(self, "example")


@pytest.mark.parametrize(
    ("value", "ok"),
    [((1.0,), True), ([1, 2.5, 3], True), ([], True), ((1.0, "x"), False), (1.0, False)],
)
def test_a_tuple_of_any_length_takes_a_list_or_tuple_of_its_type(value, ok):
    assert declared.accepts(value, tuple[float, ...]) is ok


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("sizes", "big", "expected list of float, got 'big'"),
        ("sizes", (2.0, 13), "13 is not a size"),
        ("count", 0, "must be at least 1, got 0"),
        ("mode", "c", "'c' is not one of a, b."),
        ("names", [], None),
    ],
)
def test_problem_reads_type_choices_rule_and_check_from_the_declaration(name, value, message):
    assert declared.problem(Example, name, value) == message


def test_an_instance_checks_itself_naming_the_setting():
    with pytest.raises(ConvzooError, match="example setting count: must be at least 1"):
        Example(count=0)


def test_defaults_and_the_settings_that_differ_from_them():
    assert list(declared.settings(Example)) == ["sizes", "count", "mode", "names"]
    assert declared.default(Example, "names") == [] and declared.choices(Example, "mode")
    assert declared.differing(Example()) == {}
    assert declared.differing(Example(count=4, names=["x"])) == {"count": 4, "names": ["x"]}


def test_an_unknown_setting_names_the_closest_and_the_accepted():
    message = declared.unknown("cont", list(declared.settings(Example)))
    assert "Did you mean 'count'?" in message and "Accepted: sizes, count, mode, names." in message
