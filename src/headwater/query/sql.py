"""`headwater sql`: one DuckDB query over the lake's Delta tables, each registered by its name.

Tables are read through `lake.read.register` (DuckDB's own Delta extension would be downloaded at
run time). Only the tables the query names are opened; a query that names none (`SHOW TABLES`,
`information_schema`, `SELECT 1`) gets every table, so listing the lake shows all of it. `as_of`
reads the tables at that Delta version (time travel). A `lake` that is not a directory is a
`UsageError` naming it, before DuckDB could blame a table.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from headwater.errors import UsageError
from headwater.lake.read import register as register_table


def lake_tables(lake: Path) -> dict[str, Path]:
    """Every Delta table directly under `lake`, by name."""
    if not lake.is_dir():
        return {}
    return {p.name: p for p in sorted(lake.iterdir()) if (p / "_delta_log").is_dir()}


def query(lake: Path, sql: str, as_of: int | None = None) -> pa.Table:
    """The query's result; raises `duckdb.Error` for bad SQL or an unknown table."""
    if not lake.is_dir():
        raise UsageError(
            f"no lake at {lake}: not a directory",
            "pass --lake with the directory `headwater sink` writes to (default .headwater/lake)",
        )
    tables = lake_tables(lake)
    con = duckdb.connect()
    try:
        try:
            named = duckdb.get_table_names(sql) & set(tables)
        except duckdb.Error:
            named = set()  # a query it cannot bind without the tables
        for name in named or tables:  # naming no lake table: SHOW TABLES and the like see all
            table = DeltaTable(str(tables[name]), version=as_of)
            register_table(con, name, table)
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()
