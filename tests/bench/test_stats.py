"""The statistics rule pinned: known samples give known intervals, checked against
values worked by hand and against scipy's own paired t-test."""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from convzoo.bench.stats import estimate, paired, t_quantile
from convzoo.errors import ConvzooError


def test_t_quantiles_are_the_tables():
    # Student's t, two-sided 95%: the printed tables' 12.706, 2.776 and 2.262
    assert t_quantile(1) == pytest.approx(12.7062, abs=1e-4)
    assert t_quantile(4) == pytest.approx(2.7764, abs=1e-4)
    assert t_quantile(9) == pytest.approx(2.2622, abs=1e-4)


def test_one_to_five_gives_the_interval_worked_by_hand():
    e = estimate([1, 2, 3, 4, 5])
    # s.d. = sqrt(2.5); half-width = 2.7764 * sqrt(2.5) / sqrt(5) = 1.9632
    assert (e.n, e.mean) == (5, 3.0)
    assert e.sd == pytest.approx(math.sqrt(2.5))
    assert e.low == pytest.approx(3 - 1.96324, abs=1e-4)
    assert e.high == pytest.approx(3 + 1.96324, abs=1e-4)
    assert e.text() == "3.00 ± 1.58 (n = 5), 95% CI [1.04, 4.96]"


def test_the_paired_difference_agrees_with_scipys_paired_t_test():
    a = {0: 0.9810, 1: 0.9842, 2: 0.9822, 3: 0.9801, 4: 0.9830}
    b = {0: 0.9798, 1: 0.9798, 2: 0.9823, 3: 0.9790, 4: 0.9811}
    d = paired(a, b)
    ci = scipy_stats.ttest_rel(list(a.values()), list(b.values())).confidence_interval(0.95)
    assert d.low == pytest.approx(ci.low) and d.high == pytest.approx(ci.high)
    assert d.mean == pytest.approx(sum(a[s] - b[s] for s in a) / 5)


def test_pairing_uses_the_common_seeds_only():
    d = paired({0: 1.0, 1: 2.0, 2: 4.0}, {1: 1.0, 2: 2.0, 7: 0.0})
    assert d.n == 2 and d.mean == pytest.approx(1.5)


def test_an_interval_holding_zero_is_not_separable():
    d = paired({0: 0.5, 1: 0.7, 2: 0.6}, {0: 0.6, 1: 0.6, 2: 0.6})
    assert d.low < 0 < d.high
    assert not d.separable and d.verdict() == "not separable at n = 3"
    clear = paired({0: 0.9, 1: 0.91, 2: 0.92}, {0: 0.5, 1: 0.5, 2: 0.52})
    assert clear.separable and clear.verdict() == "higher"
    reverse = paired({0: 0.5, 1: 0.5, 2: 0.52}, {0: 0.9, 1: 0.91, 2: 0.92})
    assert reverse.verdict() == "lower"


def test_one_value_has_no_spread_and_says_so():
    e = estimate([0.97])
    assert (e.sd, e.low, e.high) == (None, None, None)
    assert e.text(scale=100) == "97.00 (n = 1, no interval)"
    assert not e.separable


@pytest.mark.parametrize(
    ("values", "words"),
    [([], "no values"), ([0.9, math.nan], "NaN")],
)
def test_no_values_or_a_nan_is_refused(values, words):
    with pytest.raises(ConvzooError, match=words):
        estimate(values)


def test_no_common_seed_is_refused_naming_both_sides():
    with pytest.raises(ConvzooError, match=r"\[0, 1\] against \[2\]"):
        paired({0: 1.0, 1: 1.0}, {2: 1.0})
