"""Write a query result in one of `headwater sql`'s formats: the one place that prints it."""

from __future__ import annotations

import io
from typing import BinaryIO

import orjson
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq


def write(table: pa.Table, fmt: str, out: BinaryIO) -> None:
    if fmt == "csv":
        pcsv.write_csv(table, out)
    elif fmt == "json":
        for row in table.to_pylist():
            out.write(orjson.dumps(row, default=str) + b"\n")
    elif fmt == "parquet":
        buf = io.BytesIO()
        pq.write_table(table, buf)
        out.write(buf.getvalue())
    else:
        out.write(render(table).encode())
    out.flush()


def render(table: pa.Table) -> str:
    """A plain text grid, column widths from the values."""
    names = table.column_names
    rows = [["" if v is None else str(v) for v in row.values()] for row in table.to_pylist()]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    line = "-+-".join("-" * w for w in widths)
    fmt_row = lambda cells: " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    out = [fmt_row(names), line, *(fmt_row(r) for r in rows), f"({len(rows)} rows)"]
    return "\n".join(s.rstrip() for s in out) + "\n"
