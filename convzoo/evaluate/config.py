"""The settings of an evaluation, each declared once: type, default, help and range.

``EvaluateConfig`` is to the measures what ``TrainConfig`` is to training:
``convzoo evaluate`` makes its flags from its fields (``max_shift`` is
``--max-shift``), a bench suite's ``evaluate:`` mapping is checked against them,
every measure takes its defaults from ``DEFAULTS``, and ``EvaluateConfig(...)``
refuses a value of the wrong type or out of range. What depends on the data (a
shift must stay below half the input) is checked where the data is known
(``_checks``). A setting that changes no figure, only how fast they come
(``batch_size``), is declared ``figures=False``: a bench cell's fingerprint leaves
it out (``changed``). Adding a setting means adding one field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convzoo import settings as declared
from convzoo.settings import AT_LEAST_ONE, NON_NEGATIVE, SEED, setting

MAX_SCALE = 8.0


def _scales_problem(scales: tuple[float, ...]) -> str | None:
    """At least one scale, each in (0, MAX_SCALE], none twice."""
    if not scales:
        return "give at least one scale"
    for s in scales:
        if not 0 < s <= MAX_SCALE:
            return f"scale {s!r} is out of range: each scale must be a number in (0, {MAX_SCALE:g}]"
    if len(set(scales)) < len(scales):
        return f"{list(scales)} lists a scale twice"
    return None


@dataclass(frozen=True)
class EvaluateConfig:
    """The settings of the measures; ``convzoo evaluate`` flags and suites' ``evaluate:`` keys
    by the same names."""

    scales: tuple[float, ...] = setting(
        (0.5, 0.625, 0.75, 0.875, 1.0, 1.25, 1.5, 1.75, 2.0),
        "resize factors",
        check=_scales_problem,
        metavar="S",
    )
    max_shift: int = setting(4, "largest shift in pixels", rule=NON_NEGATIVE)
    batch_size: int = setting(
        512,
        "samples the network runs at once (changes no figure)",
        rule=AT_LEAST_ONE,
        figures=False,
    )
    samples: int = setting(
        64,
        "test samples the per-layer measures run on, the first N (the accuracy measures "
        "run on all)",
        rule=AT_LEAST_ONE,
    )
    consistency_seed: int = setting(0, "seed of shift consistency's random shifts", rule=SEED)

    def __post_init__(self) -> None:
        declared.check(self, "evaluate")
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))


DEFAULTS = EvaluateConfig()


def changed(config: EvaluateConfig) -> dict[str, Any]:
    """The settings that change a figure and differ from their defaults, as plain data (a
    list for a tuple): what a bench cell's fingerprint must hash beyond the defaults."""
    fields = declared.settings(type(config))
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in declared.differing(config).items()
        if fields[name].metadata.get("figures", True)
    }
