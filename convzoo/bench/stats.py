"""Figures over seeds, as a referee reads them: mean ± s.d. (n), a 95% interval, and
the seed-paired difference of two configurations.

DESIGN.md's rule, written once here for the bench's reports and the reproductions:
every figure over seeds is the mean with its sample standard deviation and a
two-sided 95% confidence interval from Student's t (``mean ± t(0.975, n-1) ·
s.d./√n``); two configurations are compared by the difference of each seed's pair
(the same seed gives both runs the same initialisation order and data order, so
pairing removes what they share), with the same interval over the differences.
An interval that holds zero is reported as "not separable at n = …": the data do
not say which configuration is better. One value has no spread and no interval;
both are ``None`` and print as such, never as ``± 0``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from convzoo.errors import ConvzooError

LEVEL = 0.95


@lru_cache(maxsize=64)
def t_quantile(df: int, level: float = LEVEL) -> float:
    """Student's t quantile for a two-sided interval of ``level`` with ``df`` degrees."""
    from scipy.stats import t  # scipy comes with scikit-learn; imported only when needed

    return float(t.ppf(0.5 + level / 2, df))


@dataclass(frozen=True)
class Estimate:
    """The mean of ``n`` values, their sample s.d. and the 95% interval of the mean
    (``sd``, ``low`` and ``high`` are ``None`` when ``n`` is 1)."""

    n: int
    mean: float
    sd: float | None
    low: float | None
    high: float | None

    @property
    def separable(self) -> bool:
        """Whether the interval excludes zero (meaningful for a difference)."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    def text(self, scale: float = 1.0, digits: int = 2) -> str:
        """``98.10 ± 0.16 (n = 5), 95% CI [97.90, 98.30]``, scaled (100 for percent)."""
        mean = f"{scale * self.mean:.{digits}f}"
        if self.sd is None or self.low is None or self.high is None:
            return f"{mean} (n = 1, no interval)"
        return (
            f"{mean} ± {scale * self.sd:.{digits}f} (n = {self.n}), "
            f"95% CI [{scale * self.low:.{digits}f}, {scale * self.high:.{digits}f}]"
        )

    def verdict(self) -> str:
        """For a difference: which side the interval lies on, or "not separable at n = …"."""
        if not self.separable:
            return f"not separable at n = {self.n}"
        return "higher" if self.mean > 0 else "lower"

    def as_dict(self) -> dict[str, float | int | None]:
        """The fields, for a JSON report."""
        return {"n": self.n, "mean": self.mean, "sd": self.sd, "low": self.low, "high": self.high}


def estimate(values: Sequence[float]) -> Estimate:
    """Mean, sample s.d. and 95% t-interval of ``values`` (NaN is refused: a diverged run
    is reported as such, not averaged)."""
    known = [float(v) for v in values]
    if not known:
        raise ConvzooError("no values to summarise: every run of this configuration failed")
    if any(math.isnan(v) for v in known):
        raise ConvzooError("a value is NaN: report the run as diverged rather than average it")
    mean = statistics.fmean(known)
    if len(known) == 1:
        return Estimate(1, mean, None, None, None)
    sd = statistics.stdev(known)
    half = t_quantile(len(known) - 1) * sd / math.sqrt(len(known))
    return Estimate(len(known), mean, sd, mean - half, mean + half)


def paired(a: Mapping[int, float], b: Mapping[int, float]) -> Estimate:
    """The seed-paired difference ``a - b`` over the seeds both have, with its interval.

    Seeds that only one side has are left out (a run still going, or failed); fewer
    than two common seeds give no interval, which ``text`` says.
    """
    common = sorted(set(a) & set(b))
    if not common:
        raise ConvzooError(
            f"no seed in common to pair: {sorted(a)} against {sorted(b)}; "
            "run both configurations with the same seeds"
        )
    return estimate([a[s] - b[s] for s in common])
