"""What an evaluation shows while it runs: a bar per measure in a terminal, else one line each.

Measuring a trained net over every scale, shift and layer takes minutes on a
CPU; without a sign of life a user cannot tell it from a hang. As in training
(``convzoo.train.callbacks``), a bar redraws in place only where stderr is a
terminal; in a log file, CI or a cluster job each measure prints one line when it
ends, with what it ran on and how long it took.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

Tick = Callable[[], None]  # called once per batch that a measure has run


def no_tick() -> None:
    """The tick of a measure that nobody watches."""


class Progress:
    """Reports each measure of an evaluation on ``stream`` (stderr by default); ``bar``
    forces a bar on or off (by default: a bar when the stream is a terminal)."""

    def __init__(self, stream: TextIO | None = None, bar: bool | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.bar = self.stream.isatty() if bar is None else bar

    @contextmanager
    def measure(self, name: str, batches: int) -> Iterator[Tick]:
        """Yields the tick of one measure that runs ``batches`` batches; ``name`` says what it
        measures and on what (``scale curve: 9 scales x 1,000 samples``)."""
        start = time.perf_counter()
        if self.bar:
            with tqdm(total=batches, desc=name, file=self.stream, unit="batch") as bar:

                def tick() -> None:
                    bar.update()

                yield tick
            return
        yield no_tick
        elapsed = time.perf_counter() - start
        self.stream.write(f"evaluate: {name} ({batches} batches, {elapsed:.1f} s)\n")
        self.stream.flush()


class Silent(Progress):
    """Shows nothing: what a measure gets when its caller asked for no progress."""

    def __init__(self) -> None:
        super().__init__(stream=sys.stderr, bar=False)

    @contextmanager
    def measure(self, name: str, batches: int) -> Iterator[Tick]:
        """Yields a tick that does nothing."""
        yield no_tick
