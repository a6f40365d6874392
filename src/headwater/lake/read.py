"""Delta tables made queryable in DuckDB by name, at the version a `DeltaTable` was opened at.

The table's data files (from the Delta log, through `deltalake`) are read by DuckDB's own Parquet
reader, as a temporary view. Two reasons not to hand DuckDB `deltalake`'s Arrow dataset:

- a query DuckDB stops early (`LIMIT`) leaves pyarrow's scanner threads running; the process
  then hangs or crashes when it exits (duckdb 2.0 + pyarrow 26, reproduced with `SELECT * …
  LIMIT 5`);
- delta-rs' MERGE writes strings as Arrow `string_view` (the Arrow schema stored in its Parquet
  files says so) and `write_deltalake` as `string`; pyarrow has no kernel comparing the two
  (delta-io/delta-rs#4579), so a filter pushed into the scan fails on a table holding both.

DuckDB reads the Parquet types themselves and pushes filters and projections into its own scan.
Partition values come from the hive-style directories delta-rs writes, typed as the Delta schema
says. Columns the table has but no file holds yet (added by schema evolution) are NULLs. A table
whose protocol needs what plain Parquet cannot express (deletion vectors, column mapping) is read
through the Arrow dataset instead, with its materialised rows.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

#: Reader features a plain read of the data files would get wrong.
_NEEDS_DELTA_READER = frozenset({"deletionVectors", "columnMapping"})


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _local(uri: str) -> str:
    return uri.removeprefix("file://")


def register(con: duckdb.DuckDBPyConnection, name: str, table: DeltaTable) -> None:
    """Make `table` (at its loaded version) queryable as `name` in `con`."""
    schema = pa.schema(table.schema().to_arrow())
    features = set(table.protocol().reader_features or ())
    files = table.file_uris()
    if features & _NEEDS_DELTA_READER:
        con.register(name, table.to_pyarrow_table())
        return
    if not files:
        con.register(name, schema.empty_table())
        return
    # DuckDB's name for each column's type, from the Delta schema.
    empty = f"__{name}_schema"
    con.register(empty, schema.empty_table())
    types = dict(zip(con.table(empty).columns, map(str, con.table(empty).types), strict=True))
    con.unregister(empty)
    partitions = list(table.metadata().partition_columns)
    paths = "[" + ", ".join(_literal(_local(f)) for f in files) + "]"
    hive_types = "{" + ", ".join(f"{_literal(c)}: {_literal(types[c])}" for c in partitions) + "}"
    options = "union_by_name = true"
    if partitions:
        options += f", hive_partitioning = true, hive_types = {hive_types}"
    source = f"read_parquet({paths}, {options})"
    present = set(con.sql(f"SELECT * FROM {source} LIMIT 0").columns)
    columns = ", ".join(
        f"CAST({_ident(c)} AS {types[c]}) AS {_ident(c)}"
        if c in present
        else f"CAST(NULL AS {types[c]}) AS {_ident(c)}"
        for c in schema.names
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW {_ident(name)} AS SELECT {columns} FROM {source}")
