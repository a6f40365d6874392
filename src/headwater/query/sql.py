"""`headwater sql`: one DuckDB query over the lake's Delta tables, each registered by its name.

Tables are read through `deltalake`'s Arrow datasets (DuckDB's own Delta extension would be
downloaded at run time). Only the tables the query names are opened; `as_of` reads them at that
Delta version (time travel).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from headwater.lake.read import register as register_table


def lake_tables(lake: Path) -> dict[str, Path]:
    """Every Delta table directly under `lake`, by name."""
    if not lake.is_dir():
        return {}
    return {p.name: p for p in sorted(lake.iterdir()) if (p / "_delta_log").is_dir()}


def query(lake: Path, sql: str, as_of: int | None = None) -> pa.Table:
    """The query's result; raises `duckdb.Error` for bad SQL or an unknown table."""
    tables = lake_tables(lake)
    con = duckdb.connect()
    try:
        try:
            named = duckdb.get_table_names(sql)
        except duckdb.Error:
            named = set(tables)  # a query it cannot bind without the tables: open them all
        for name in named:
            path = tables.get(name)
            if path is None:
                continue  # DuckDB names what it cannot find in its own error
            table = DeltaTable(str(path), version=as_of)
            register_table(con, name, table)
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()
