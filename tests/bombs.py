"""YAML that is small to write and huge to expand, for the tests of convzoo's read limits."""

from __future__ import annotations


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A YAML flow list of ``width ** levels`` leaves written in a few hundred bytes."""
    text = f"&a0 [{', '.join(['x'] * width)}]"
    for i in range(1, levels):
        text = f"&a{i} [{text}, {', '.join([f'*a{i - 1}'] * (width - 1))}]"
    return text
