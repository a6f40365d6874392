"""What a snapshot reads: the columns with their Arrow types, and the chunks that split the table.

A chunk is a WHERE clause; chunks never overlap and together cover the table, because the last
one is open-ended (`pk >= lo`) and the first one starts at the minimum read inside the snapshot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Column:
    """A column: its name, the source's type name, the Arrow type written, the SELECT expression."""

    name: str
    source_type: str
    arrow_type: pa.DataType
    select: str


def schema_of(columns: list[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow_type) for c in columns])


def key_bounds(low: int, high: int, rows: int, chunk_rows: int) -> list[tuple[int, int]]:
    """Split [low, high] of an integer key into about rows/chunk_rows [start, stop) of equal width.

    `rows` is the table's estimated row count (0 when unknown: then the key is assumed dense).
    """
    span = high - low + 1
    estimate = rows if rows > 0 else span
    count = max(1, min(span, math.ceil(estimate / max(1, chunk_rows))))
    width = math.ceil(span / count)
    starts = list(range(low, high + 1, width))
    return list(zip(starts, [*starts[1:], high + 1], strict=True))


def key_ranges(quoted_key: str, low: int, high: int, rows: int, chunk_rows: int) -> list[str]:
    """The WHERE clauses of `key_bounds`; the first and last are open-ended, so rows outside
    [low, high] (none inside the snapshot that read them) still belong to a chunk."""
    bounds = key_bounds(low, high, rows, chunk_rows)
    if len(bounds) == 1:
        return ["TRUE"]
    clauses = []
    for i, (start, stop) in enumerate(bounds):
        if i == len(bounds) - 1:
            clauses.append(f"{quoted_key} >= {start}")
        elif i == 0:
            clauses.append(f"{quoted_key} < {stop}")
        else:
            clauses.append(f"{quoted_key} >= {start} AND {quoted_key} < {stop}")
    return clauses


def page_ranges(pages: int, rows: int, chunk_rows: int) -> list[str]:
    """PostgreSQL ctid ranges over the table's pages (tables without an integer primary key)."""
    if pages <= 1 or rows <= chunk_rows:
        return ["TRUE"]
    per_chunk = max(1, math.ceil(pages * chunk_rows / max(1, rows)))
    starts = list(range(0, pages, per_chunk))
    clauses = []
    for i, start in enumerate(starts):
        low = f"ctid >= '({start},0)'::tid"
        if i == len(starts) - 1:
            clauses.append(low)
        else:
            clauses.append(f"{low} AND ctid < '({starts[i + 1]},0)'::tid")
    return clauses
