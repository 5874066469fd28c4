"""Connection tables: which input maps each output map of a filter bank sees.

LeNet-5's C3 layer (LeCun et al. 1998, Table I) does not connect each of its 16
maps to all 6 maps of S2: a map sees 3, 4 or all 6 of them. That keeps the
number of connections down and, because different maps see different inputs,
forces them to extract different features. A table here is one row per output
map, each row the input maps it sees; only the connected kernels are learned.
"""

from __future__ import annotations

from collections.abc import Sequence

from convzoo.errors import is_int

Table = tuple[tuple[int, ...], ...]

LENET5_C3: Table = (
    (0, 1, 2),
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 5),
    (4, 5, 0),
    (5, 0, 1),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 3, 4, 5),
    (3, 4, 5, 0),
    (4, 5, 0, 1),
    (5, 0, 1, 2),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

TABLES: dict[str, Table] = {"lenet5_c3": LENET5_C3}


def _rows(connections: str | Sequence[Sequence[int]]) -> Sequence[object]:
    """The rows of a named table or of an explicit list, not yet checked."""
    if isinstance(connections, str):
        if connections not in TABLES:
            raise ValueError(
                f"unknown connection table {connections!r}; known tables: {', '.join(TABLES)}, "
                "or give a list with one list of input maps per output map"
            )
        return TABLES[connections]
    if isinstance(connections, Sequence):
        return connections
    raise ValueError(
        f"connections must be a table name or a list of lists of input maps, got {connections!r}"
    )


def _checked_row(o: int, row: object, in_channels: int) -> tuple[int, ...]:
    """Row ``o`` sorted, once checked: a non-empty list of distinct input maps that exist."""
    if isinstance(row, str) or not isinstance(row, Sequence):
        raise ValueError(f"connections row {o} must be a list of input maps, got {row!r}")
    if not row:
        raise ValueError(f"connections row {o} is empty: output map {o} would see no input")
    for i in row:
        if not is_int(i) or not 0 <= i < in_channels:
            raise ValueError(
                f"connections row {o} names input map {i!r}, but the layer has "
                f"{in_channels} input maps (0..{in_channels - 1})"
            )
    if len(set(row)) != len(row):
        raise ValueError(f"connections row {o} names an input map twice: {list(row)}")
    return tuple(sorted(row))


def connection_table(
    connections: str | Sequence[Sequence[int]], in_channels: int, out: int, groups: int
) -> Table:
    """The checked table (rows sorted) for a table name or an explicit list of rows."""
    if groups != 1:
        raise ValueError(
            f"connections and groups={groups} both restrict which inputs a map sees; "
            "use groups: 1 with a connection table"
        )
    rows = _rows(connections)
    if len(rows) != out:
        raise ValueError(
            f"the connection table has {len(rows)} rows (one per output map) but out is {out}; "
            "give one row per output map"
        )
    return tuple(_checked_row(o, row, in_channels) for o, row in enumerate(rows))
