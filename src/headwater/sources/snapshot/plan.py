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


_MAX_ITEMS = 291  # tuples an 8 KB heap page can hold (MaxHeapTuplesPerPage)


def tid(position: int) -> str:
    """A heap position (page << 16 | item) as a tid literal: PostgreSQL scans tid ranges (14+)."""
    return f"'({position >> 16},{position & 0xFFFF})'::tid"


def tid_bounds(pages: int, rows: int, chunk_rows: int) -> list[tuple[int, int]]:
    """Split the heap's pages into about rows/chunk_rows [start, stop) positions (page << 16 |
    item). Chunks smaller than a page split pages at item numbers; `rows` 0 (never analyzed)
    counts 100 rows a page. The last stop is the end of the last page."""
    end = max(pages, 0) << 16
    rows = rows if rows > 0 else pages * 100
    if pages <= 1 or rows <= chunk_rows:
        return [(0, end)]
    per_chunk = pages * chunk_rows / rows
    if per_chunk >= 1:
        starts = [page << 16 for page in range(0, pages, math.ceil(per_chunk))]
    else:
        per_page = min(math.ceil(rows / pages), _MAX_ITEMS)
        width = math.ceil(per_page / math.ceil(per_page / max(1, chunk_rows)))
        items = range(0, per_page, width)
        starts = [(page << 16) | item for page in range(pages) for item in items]
    return list(zip(starts, [*starts[1:], end], strict=True))


def page_ranges(pages: int, rows: int, chunk_rows: int) -> list[str]:
    """The WHERE clauses of `tid_bounds`; the last is open-ended (pages added since are read)."""
    bounds = tid_bounds(pages, rows, chunk_rows)
    if len(bounds) == 1:
        return ["TRUE"]
    clauses = [f"ctid >= {tid(start)} AND ctid < {tid(stop)}" for start, stop in bounds[:-1]]
    return [*clauses, f"ctid >= {tid(bounds[-1][0])}"]
