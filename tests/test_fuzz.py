"""Random specs, valid and invalid: each builds and runs, or is refused by a ``ConvzooError``.

A small, derandomized sample runs in every test run; ``benchmarks/fuzz_specs.py``
runs the same strategy over thousands of specs. The specs below are bugs the long
run found in blocks; each stays here as a regression test, expected to fail
until its block is fixed.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz_strategies import outcome, specs


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=specs())
def test_a_random_spec_builds_and_runs_or_is_refused(data):
    outcome(data)


def one_layer(layer: dict, before: tuple[dict, ...] = ()) -> dict:
    return {"name": "found", "input": [1, 4], "layers": [*before, layer]}


@pytest.mark.parametrize(
    "data",
    [
        one_layer({"act": "relu", "inplace": True}, ({"act": "tanh"},)),
        one_layer({"act": "relu", "inplace": 2}),
    ],
)
def test_inplace_relu_trains_or_is_refused(data):
    outcome(data)


@pytest.mark.parametrize(
    "layer",
    [
        {"act": "softplus", "beta": 1e100},
        {"act": "softplus", "threshold": 1e100},
        {"act": "elu", "alpha": 1e100},
        {"act": "leaky_relu", "negative_slope": 1e100},
    ],
)
def test_arguments_beyond_float32_run_or_are_refused(layer):
    outcome(one_layer(layer))
