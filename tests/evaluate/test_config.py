"""``EvaluateConfig``: every evaluation setting declared once, with a help, a default, a range."""

from __future__ import annotations

import pytest

from convzoo import settings as declared
from convzoo.errors import ConvzooError
from convzoo.evaluate.config import DEFAULTS, EvaluateConfig, changed

BAD = {
    "scales": [[], [0.0, 1.0], [1.0, 8.5], [1.0, 1.0], "1 2", [True]],
    "max_shift": [-1, 2.5],
    "batch_size": [0, "many"],
    "samples": [0],
    "consistency_seed": [-1, 2**32],
}


@pytest.mark.parametrize("name", list(declared.settings(EvaluateConfig)))
def test_every_setting_has_help_and_its_default_passes_its_own_checks(name):
    assert declared.settings(EvaluateConfig)[name].metadata["help"].strip()
    assert declared.problem(EvaluateConfig, name, declared.default(EvaluateConfig, name)) is None
    assert name in BAD


@pytest.mark.parametrize(
    ("name", "value"), [(n, v) for n, values in BAD.items() for v in values], ids=repr
)
def test_a_bad_value_is_refused_naming_the_setting(name, value):
    with pytest.raises(ConvzooError, match=f"evaluate setting {name}:"):
        EvaluateConfig(**{name: value})


def test_scales_given_as_a_list_of_numbers_are_a_tuple_of_floats():
    assert EvaluateConfig(scales=[1, 2]).scales == (1.0, 2.0)


def test_changed_names_the_settings_that_change_a_figure_and_are_not_the_default():
    assert changed(DEFAULTS) == {}
    config = EvaluateConfig(scales=[1, 2], samples=DEFAULTS.samples, batch_size=8, max_shift=2)
    assert changed(config) == {"scales": [1.0, 2.0], "max_shift": 2}
