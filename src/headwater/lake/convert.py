"""JSON record values → an Arrow table in a lake table's schema, with rejects and their reasons.

Fast path, no per-record Python beyond one C call: each value is decoded by msgspec into a strict
type made from the schema (`schema.exact_type`: known keys only, every value of its column's JSON
type or null, free-form objects as raw JSON); when all pass, the batch's shape fits the schema
exactly and DuckDB's read of the values into columns (`from_json` with the schema's structure,
run meanwhile in another thread: DuckDB releases the GIL, msgspec holds it) is kept, its casts
being exact. Measured on clickstream events the check costs ~2 µs a
row, against 7-15 µs for DuckDB's `json_group_structure` it replaces on this path
(docs/benchmarks.md). Free-form objects (`properties`, `traits`) stay JSON text, which
`pyarrow.json` cannot do (docs/decisions.md).

Shape path, for a batch that brings something new (a new key) or fails the check otherwise: DuckDB
reads the whole batch's shape (`json_group_structure`); new keys widen the schema, then
`from_json` reads the batch as above.

Slow path, only for a batch that does not fit (a type conflict, invalid JSON, a null value): each
value is parsed with orjson and checked against the schema with the same rules (`schema.fit`);
those that fail are rejected with the reason, the rest take the shape path.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import msgspec
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from headwater.lake.schema import (
    TIMESTAMP,
    Fit,
    duckdb_structure,
    evolve,
    exact_type,
    fit,
    is_epoch_ms,
)
from headwater.lake.tables import SINK_COLUMNS, TableSpec


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that cannot go into the table: its position in the batch and why."""

    index: int
    reason: str


@dataclass
class Converted:
    """The rows that fit (in `schema`, which may be wider than the table's) and the rejects."""

    table: pa.Table
    schema: pa.Schema
    rejected: list[Rejected] = field(default_factory=list)


class Converter:
    """Converts batches for one table. Not thread-safe: one per sink thread (DuckDB connection)."""

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self._con = duckdb.connect(config={"threads": 2})
        self._lock = threading.Lock()
        # pyarrow imports pandas on its first array from Python objects (~1 s here): pay it now,
        # not inside the sink's first flush (it held the first commit back, bench/sink.py).
        pa.array([b""], pa.binary())
        #: The schema `_decode` checks values against, and its msgspec decoder (`_exact`).
        self._exact_schema: pa.Schema | None = None
        self._decode: Any = None

    def convert(
        self,
        values: Sequence[bytes | None],
        partitions: Sequence[int],
        offsets: Sequence[int],
        timestamps_ms: Sequence[int | None],
        schema: pa.Schema,
    ) -> Converted:
        """Rows for `values` in `schema` widened by new fields; rejects keep their index."""
        with self._lock:
            index = list(range(len(values)))
            if None not in values:
                done = self._fast(values, index, partitions, offsets, timestamps_ms, schema)
                if done is not None:
                    return done
            return self._slow(values, partitions, offsets, timestamps_ms, schema)

    def close(self) -> None:
        self._con.close()

    # -- fast path ----------------------------------------------------------------------------

    def _fast(
        self,
        values: Sequence[bytes | None],
        index: list[int],
        partitions: Sequence[int],
        offsets: Sequence[int],
        timestamps_ms: Sequence[int | None],
        schema: pa.Schema,
    ) -> Converted | None:
        """The batch in `schema` (widened), or None when some value does not fit."""
        try:
            src = _chunked(values)
        except pa.ArrowInvalid:
            return None  # invalid UTF-8 somewhere: find it record by record
        con = self._con
        con.register("src", src)
        try:
            # The typed read in `schema` runs on DuckDB's threads (it releases the GIL) while
            # this thread checks the values (msgspec holds it); it is kept only if they all fit.
            read = _Read(con, _structure(schema, self.spec.reserved))
            read.start()
            exact = self._exact(values, schema)
            read.join()
            if exact:
                wide = schema
                rows = read.result()
            else:
                (row,) = con.sql("SELECT json_group_structure(v::JSON) FROM src").fetchall()
                shape = orjson.loads(row[0]) if row[0] is not None else {}
                if not isinstance(shape, dict):
                    return None  # some value is not a JSON object
                fitted: Fit = fit(shape, schema, self.spec.reserved)
                if fitted.conflicts:
                    return None
                wide = evolve(schema, fitted.added) if fitted.added else schema
                structure = _structure(wide, self.spec.reserved)
                rows = con.sql(
                    f"SELECT unnest(from_json(v, '{structure}')) FROM src"
                ).to_arrow_table()
        except duckdb.Error:
            return None  # invalid JSON or UTF-8 somewhere: find it record by record
        finally:
            con.unregister("src")
        table = self._finish(rows, wide, index, partitions, offsets, timestamps_ms)
        return Converted(table, wide)

    def _exact(self, values: Sequence[bytes | None], schema: pa.Schema) -> bool:
        """Whether every value's shape fits `schema` exactly (`fit(...).exact` for each, hence for
        the batch: the types each column accepts are closed under DuckDB's merge of shapes)."""
        if self._exact_schema is None or not self._exact_schema.equals(schema, check_metadata=True):
            fields = [f for f in schema if f.name not in self.spec.reserved]
            self._decode = msgspec.json.Decoder(exact_type(fields)).decode
            self._exact_schema = schema
        decode = self._decode
        try:
            for value in values:
                decode(value)  # type: ignore[arg-type]  # no None: convert() checked
        except (msgspec.MsgspecError, ValueError):  # DecodeError, ValidationError, bad UTF-8
            return False
        return True

    def _finish(
        self,
        rows: pa.Table,
        schema: pa.Schema,
        index: list[int],
        partitions: Sequence[int],
        offsets: Sequence[int],
        timestamps_ms: Sequence[int | None],
    ) -> pa.Table:
        """Typed columns in schema order, plus the sink's own columns."""
        n = rows.num_rows
        if n != len(index):
            raise AssertionError(f"DuckDB returned {n} rows for {len(index)} values")
        columns: dict[str, pa.Array | pa.ChunkedArray] = {}
        for f in schema:
            if f.name in self.spec.reserved:
                continue
            col = rows.column(f.name) if f.name in rows.column_names else pa.nulls(n, f.type)
            if is_epoch_ms(f):
                col = pc.multiply(col.cast(pa.int64()), 1000).cast(TIMESTAMP)
            columns[f.name] = col
        every = len(index) == len(partitions)  # index: increasing positions, so all of them
        part = pa.array(partitions if every else [partitions[i] for i in index], pa.int32())
        offs = pa.array(offsets if every else [offsets[i] for i in index], pa.int64())
        if self.spec.date_from is not None:
            basis = columns[self.spec.date_from]
        else:
            stamps = timestamps_ms if every else [timestamps_ms[i] for i in index]
            ms = pa.array(stamps, pa.int64())
            basis = pc.multiply(ms, 1000).cast(TIMESTAMP)
        columns[self.spec.partition_column] = pc.cast(basis, pa.date32())
        columns["_partition"] = part
        columns["_offset"] = offs
        return pa.table(
            [columns[f.name].cast(f.type) for f in schema],
            schema=schema,
        )

    # -- slow path ----------------------------------------------------------------------------

    def _slow(
        self,
        values: Sequence[bytes | None],
        partitions: Sequence[int],
        offsets: Sequence[int],
        timestamps_ms: Sequence[int | None],
        schema: pa.Schema,
    ) -> Converted:
        rejected: list[Rejected] = []
        good: list[int] = []
        for i, value in enumerate(values):
            reason = self._check(value, schema)
            if reason is None:
                good.append(i)
            else:
                rejected.append(Rejected(i, reason))
        if not good:
            return Converted(_empty(schema), schema, rejected)
        vals = [values[i] for i in good]
        done = self._fast(
            vals,
            good,
            partitions,
            offsets,
            timestamps_ms,
            schema,
        )
        if done is None:  # the values fit one by one but not together: keep none of them
            rejected += [
                Rejected(i, "does not fit the table together with its batch") for i in good
            ]
            rejected.sort(key=lambda r: r.index)
            return Converted(_empty(schema), schema, rejected)
        rejected.sort(key=lambda r: r.index)
        return Converted(done.table, done.schema, rejected)

    def _check(self, value: bytes | None, schema: pa.Schema) -> str | None:
        """Why `value` cannot go into a table of `schema`, or None."""
        if value is None:
            return "null value (tombstone)"
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            return f"invalid JSON: {exc}"
        if not isinstance(obj, dict):
            return f"not a JSON object: {type(obj).__name__}"
        conflicts = fit(structure_of(obj), schema, self.spec.reserved).conflicts
        return "; ".join(conflicts) if conflicts else None


def _structure(schema: pa.Schema, reserved: frozenset[str]) -> str:
    """The `from_json` structure of a schema's data fields, quoted for an SQL string literal."""
    data_fields = [f for f in schema if f.name not in reserved]
    return orjson.dumps(duckdb_structure(data_fields)).decode().replace("'", "''")


class _Read(threading.Thread):
    """`from_json` of the registered values in another thread; `result()` raises its error."""

    def __init__(self, con: duckdb.DuckDBPyConnection, structure: str) -> None:
        super().__init__(name="convert-read", daemon=True)
        self._con = con
        self._sql = f"SELECT unnest(from_json(v, '{structure}')) FROM src"
        self._rows: pa.Table | None = None
        self._error: Exception | None = None

    def run(self) -> None:
        try:
            self._rows = self._con.sql(self._sql).to_arrow_table()
        except Exception as exc:  # raised again by result(), in the caller's thread
            self._error = exc

    def result(self) -> pa.Table:
        if self._error is not None:
            raise self._error
        assert self._rows is not None
        return self._rows


def structure_of(value: Any) -> Any:
    """A value's shape in DuckDB's `json_structure` vocabulary (for the one-record checks)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "UBIGINT" if value >= 0 else "BIGINT"
    if isinstance(value, float):
        return "DOUBLE"
    if isinstance(value, str):
        return "VARCHAR"
    if isinstance(value, dict):
        return {k: structure_of(v) for k, v in value.items()}
    return ["JSON"]


#: Rows per Arrow record batch handed to DuckDB: it scans one batch per thread, so one big batch
#: would leave the second core idle (from_json ~1.7x faster with 2 threads, bench/sink.py).
CHUNK_ROWS = 8192


def _chunked(values: Sequence[bytes | None]) -> pa.Table:
    """The values as one string column in record batches of `CHUNK_ROWS`. Built as binary and
    cast: Arrow validates UTF-8 in one vectorised pass, ~3x faster than from Python strings."""
    column = pa.array(values, pa.binary()).cast(pa.string())
    batches = [
        pa.record_batch([column.slice(start, CHUNK_ROWS)], names=["v"])
        for start in range(0, max(1, len(column)), CHUNK_ROWS)
    ]
    return pa.Table.from_batches(batches)


def _empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


__all__ = ["SINK_COLUMNS", "Converted", "Converter", "Rejected", "structure_of"]
