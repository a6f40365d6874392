"""Training sets: entities + point-in-time features, pinned to the Delta versions they read.

`build` opens every table the spec needs at one version each (`LakeSnapshot`; newest unless
pinned), runs each feature query in DuckDB, and joins the results back onto the entity rows in
their original order. The versions travel with the result (`TrainingSet.versions`, and the
Parquet file's metadata), so `build(..., pin=versions)` later gives the same rows bit for bit:
the inputs are the same table versions and every query's output is ordered by entity row.

Entities: an Arrow table or pandas DataFrame with a key column, a timestamp column (naive
timestamps are taken as UTC) and anything else (labels), passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from headwater.ml.features import ClickstreamFeatures, HistoryFeatures, ident
from headwater.ml.snapshot import LakeSnapshot

if TYPE_CHECKING:
    import pandas as pd

VERSIONS_META = b"headwater.versions"
UTC_US = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class DatasetSpec:
    """Which features to attach: history tables, and clickstream activity (None: none)."""

    history: tuple[HistoryFeatures, ...] = ()
    clickstream: ClickstreamFeatures | None = field(default_factory=ClickstreamFeatures)

    def tables(self) -> list[str]:
        names = [h.table for h in self.history]
        if self.clickstream is not None:
            names.append(self.clickstream.table)
        return names


@dataclass(frozen=True)
class TrainingSet:
    """The rows (entities and their features) and the table versions they came from."""

    table: pa.Table
    versions: dict[str, int]

    def to_arrow(self) -> pa.Table:
        return self.table

    def to_pandas(self) -> pd.DataFrame:
        return self.table.to_pandas()

    def to_parquet(self, path: Path) -> None:
        """Write the rows with the versions in the file's metadata (`read_versions`)."""
        meta = dict(self.table.schema.metadata or {})
        meta[VERSIONS_META] = orjson.dumps(self.versions, option=orjson.OPT_SORT_KEYS)
        pq.write_table(self.table.replace_schema_metadata(meta), path)

    def to_torch(self, features: list[str], label: str | None = None) -> Any:
        """A PyTorch IterableDataset of (features, label) tensors (needs torch installed)."""
        from headwater.ml.loaders import torch_dataset

        return torch_dataset(self.table, features, label)


def read_versions(path: Path) -> dict[str, int]:
    """The table versions a training set written by `to_parquet` was built from."""
    meta = pq.read_schema(path).metadata or {}
    if VERSIONS_META not in meta:
        raise ValueError(f"{path}: no {VERSIONS_META.decode()} metadata (not a headwater dataset)")
    return {str(k): int(v) for k, v in orjson.loads(meta[VERSIONS_META]).items()}


def build(
    lake: Path,
    entities: pa.Table | pd.DataFrame,
    spec: DatasetSpec | None = None,
    key: str = "key",
    ts: str = "ts",
    pin: Mapping[str, int] | None = None,
) -> TrainingSet:
    """Entities with their features as of each row's `ts`, from the lake at pinned versions."""
    spec = spec or DatasetSpec()
    if not isinstance(entities, pa.Table):
        entities = pa.Table.from_pandas(entities, preserve_index=False)
    snapshot = LakeSnapshot.open(lake, spec.tables(), pin)
    queries = [h.sql() for h in spec.history]
    if spec.clickstream is not None:
        queries.append(spec.clickstream.sql())
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        snapshot.register(con)
        con.register("entities", _keyed(entities, key, ts))
        con.register("given", entities.append_column("__row", _rows(entities)))
        selects = ["g.* EXCLUDE (__row)"]
        joins = []
        for n, sql in enumerate(queries):
            con.execute(f"CREATE TEMP TABLE f{n} AS {sql}")
            names = [c for c in con.table(f"f{n}").columns if c != "__row"]
            selects += [f"f{n}.{ident(c)}" for c in names]
            joins.append(f"LEFT JOIN f{n} USING (__row)")
        table = con.sql(
            f"SELECT {', '.join(selects)} FROM given g {' '.join(joins)} ORDER BY g.__row"
        ).to_arrow_table()
    finally:
        con.close()
    return TrainingSet(table.replace_schema_metadata(None), dict(snapshot.versions))


def _rows(table: pa.Table) -> pa.Array:
    return pa.array(range(table.num_rows), pa.int64())


def _keyed(entities: pa.Table, key: str, ts: str) -> pa.Table:
    """`__row`, `key`, `ts` (UTC) of each entity row: what the feature queries join on."""
    stamps = entities.column(ts)
    if pa.types.is_timestamp(stamps.type) and stamps.type.tz is None:
        stamps = stamps.cast(pa.timestamp("us")).cast(UTC_US)  # naive: UTC
    return pa.table(
        {"__row": _rows(entities), "key": entities.column(key), "ts": stamps.cast(UTC_US)}
    )
