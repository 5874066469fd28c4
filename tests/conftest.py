"""Shared fixtures: a scratch registry entry that is removed after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import convzoo as cz


@pytest.fixture
def scratch() -> Iterator[Callable[..., Any]]:
    """Register blocks in the global registry for one test; they are removed afterwards."""
    added: list[tuple[str, str]] = []

    def add(family: str, name: str, obj: Any = None, **kwargs: Any) -> Any:
        added.append((family, name))
        return cz.register(family, name, obj, **kwargs)

    yield add
    for family, name in added:
        cz.REGISTRY.unregister(family, name)
