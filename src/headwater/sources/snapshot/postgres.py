"""PostgreSQL snapshots: one exported snapshot, chunks read over ADBC (COPY BINARY to Arrow).

The control connection (psycopg2) opens a REPEATABLE READ, READ ONLY transaction, exports its
snapshot with `pg_export_snapshot()` and reads the WAL LSN, the catalog and the key range in that
same transaction. Each worker opens an ADBC connection and runs `SET TRANSACTION SNAPSHOT '<id>'`
before its first chunk, so every chunk sees exactly the control transaction's data. The control
transaction stays open until the snapshot is written (an exported snapshot dies with it).

Chunks: integer primary key ranges; otherwise ctid (page) ranges, which PostgreSQL 14+ scans as
TID ranges without an index.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import pyarrow as pa
import pyarrow.compute as pc

from headwater.logs import log_event
from headwater.sources.snapshot.errors import (
    SnapshotError,
    SourceConnectError,
    SourcePrivilegeError,
    TableNotFoundError,
    UnsupportedTypeError,
)
from headwater.sources.snapshot.plan import (
    Column,
    key_bounds,
    key_ranges,
    page_ranges,
    tid_bounds,
)
from headwater.sources.snapshot.position import Position
from headwater.sources.snapshot.postgres_copy import CopyReader, copy_select, open_copy_connection

log = logging.getLogger("headwater.snapshot.postgres")

TID_RANGE_SCANS = 140000  # server_version_num from which `ctid >= x AND ctid < y` scans a range

_NATIVE: dict[str, pa.DataType] = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "oid": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "bool": pa.bool_(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    "bytea": pa.binary(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}
# Read as their text form: no Arrow type of their own in Delta, text is their canonical form.
_AS_TEXT = {"json", "jsonb", "uuid", "xml", "citext", "inet", "cidr", "macaddr"}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column_for(
    table: str, name: str, typname: str, typtype: str, typmod: int, as_text: bool
) -> Column:
    """Map one PostgreSQL column to an Arrow type and the expression that reads it."""
    quoted = _quote(name)
    if as_text or typname in _AS_TEXT or typtype == "e":
        return Column(name, typname, pa.string(), f"{quoted}::text")
    if typname in _NATIVE:
        return Column(name, typname, _NATIVE[typname], quoted)
    if typname == "numeric":
        if typmod < 4:
            raise UnsupportedTypeError(table, name, "numeric without precision and scale")
        precision, scale = (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
        if precision > 38:
            raise UnsupportedTypeError(table, name, f"numeric({precision},{scale})")
        select = quoted
        if precision <= 18:
            # The driver turns numeric into text slowly; the unscaled value as int8 is exact
            # (the column's scale is fixed) and becomes decimal128 without parsing.
            select = f"({quoted} * 1{'0' * scale})::int8" if scale else f"{quoted}::int8"
        return Column(
            name, f"numeric({precision},{scale})", pa.decimal128(precision, scale), select
        )
    raise UnsupportedTypeError(table, name, typname)


def translate_error(exc: BaseException, user: str, table: str) -> SnapshotError:
    """psycopg2 / ADBC errors → ours, by SQLSTATE."""
    state = getattr(exc, "pgcode", None) or getattr(exc, "sqlstate", None) or ""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if state in ("28P01", "28000") or "password authentication failed" in text:
        return SourceConnectError(
            f"PostgreSQL refused the login of user {user!r}: {text}",
            "check the user and password in the URL (postgresql://USER:PASSWORD@HOST:PORT/DB)",
        )
    if state == "3D000":
        return SourceConnectError(f"PostgreSQL: {text}", "check the database name in the URL")
    if state == "42501":
        return SourcePrivilegeError(
            f"user {user!r} may not read {table}: {text}",
            f"GRANT SELECT ON {table} TO {user}; (and USAGE on its schema)",
        )
    if state == "42P01":
        return TableNotFoundError(f"no table {table} in PostgreSQL: {text}", "check --table")
    if isinstance(exc, psycopg2.OperationalError):
        return SourceConnectError(
            f"cannot connect to PostgreSQL: {text}", "check host, port and that the server runs"
        )
    return SnapshotError(f"PostgreSQL error while reading {table}: {text}", "see the message")


class _AdbcReader:
    """Reads chunks over ADBC; its connection joins the snapshot when first needed (behind the
    COPY reader it only reads what CSV cannot carry exactly)."""

    def __init__(self, dsn: str, snapshot_id: str, select: str, columns: list[Column]) -> None:
        self.dsn, self.snapshot_id, self.select = dsn, snapshot_id, select
        # The driver's forms that are not the column's Arrow type: numeric (see column_for) and
        # oid, an unsigned 32-bit number the driver hands over as a signed int32.
        self.fixes = {
            i: c
            for i, c in enumerate(columns)
            if pa.types.is_decimal(c.arrow_type) or c.source_type == "oid"
        }
        self.conn: Any = None

    def _connection(self) -> Any:
        if self.conn is None:
            # Imported here: the driver imports pyarrow.dataset and with it pandas, ~1 s of a
            # snapshot's start that the COPY reader alone never needs.
            import adbc_driver_postgresql.dbapi as adbc

            self.conn = adbc.connect(self.dsn)
            with self.conn.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cur.execute(f"SET TRANSACTION SNAPSHOT '{self.snapshot_id}'")
        return self.conn

    def read(self, where: str) -> Iterator[pa.RecordBatch]:
        with self._connection().cursor() as cur:
            cur.execute(f"{self.select} WHERE {where}")
            for batch in cur.fetch_record_batch():
                yield self._convert(batch)

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.rollback()
            finally:
                self.conn.close()

    def _convert(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self.fixes:
            return batch
        arrays = list(batch.columns)
        for index, column in self.fixes.items():
            if column.source_type == "oid":
                arrays[index] = pc.cast(arrays[index].view(pa.uint32()), pa.int64())
            else:
                arrays[index] = _to_decimal(arrays[index], column.arrow_type)
        return pa.RecordBatch.from_arrays(arrays, [f.name for f in batch.schema])


def _to_decimal(array: pa.Array, decimal: pa.DataType) -> pa.Array:
    """numeric as text (the driver's form) or as its unscaled int8 (see column_for)."""
    if isinstance(array, pa.ExtensionArray):
        array = array.storage
    if pa.types.is_integer(array.type):
        # decimal128(19, 0) holds the unscaled integers; the same buffers read as (p, s) are
        # the values, without a multiplication.
        unscaled = pc.cast(array, pa.decimal128(19, 0))
        return pa.Array.from_buffers(
            decimal, len(unscaled), unscaled.buffers(), unscaled.null_count, unscaled.offset
        )
    return pc.cast(array, decimal)


@dataclass
class PostgresSnapshot:
    """A table opened in an exported snapshot; implements run.OpenSnapshot."""

    dsn: str
    user: str
    db: str
    table: str
    columns: list[Column]
    chunks: list[str]
    estimated_rows: int
    position: Position
    workers: int
    control: Any = field(repr=False)
    select: str = ""
    # The COPY CSV read (postgres_copy): chunk clause → [start, stop) of the integer key;
    # empty when every chunk is read over ADBC (ctid chunks).
    bounds: dict[str, tuple[int, int]] = field(default_factory=dict)
    quoted_key: str = ""
    copy_select: str = ""

    @contextmanager
    def reader(self) -> Iterator[_AdbcReader | CopyReader]:
        assert self.position.pg_snapshot is not None
        fallback = _AdbcReader(self.dsn, self.position.pg_snapshot, self.select, self.columns)
        copy_conn = None
        try:
            if not self.bounds:
                yield fallback
                return
            copy_conn = open_copy_connection(self.dsn, self.position.pg_snapshot)
            yield CopyReader(
                copy_conn,
                fallback,
                self.columns,
                self.copy_select,
                self.quoted_key,
                self.bounds,
                self.table,
                self.chunks[-1],
            )
        except SnapshotError:
            raise
        except Exception as exc:
            raise translate_error(exc, self.user, self.table) from None
        finally:
            try:
                fallback.close()
            finally:
                if copy_conn is not None:
                    copy_conn.close()

    def close(self) -> None:
        try:
            self.control.rollback()
        finally:
            self.control.close()


def open_snapshot(
    dsn: str,
    table: str,
    *,
    workers: int = 4,
    chunk_rows: int = 250_000,
    as_text: frozenset[str] = frozenset(),
    exclude: frozenset[str] = frozenset(),
) -> PostgresSnapshot:
    """Export a snapshot, read the catalog and plan chunks; the caller runs and closes it."""
    params = psycopg2.extensions.parse_dsn(dsn)
    user, db = params.get("user", ""), params.get("dbname", "")
    schema, _, name = table.rpartition(".")
    schema = schema or "public"
    qualified = f"{_quote(schema)}.{_quote(name)}"
    try:
        control = psycopg2.connect(dsn, connect_timeout=10)
    except psycopg2.Error as exc:
        raise translate_error(exc, user, qualified) from None
    try:
        control.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with control.cursor() as cur:
            cur.execute(
                "SELECT pg_export_snapshot(), pg_current_wal_lsn()::text, "
                "pg_current_snapshot()::text"
            )
            snapshot_id, lsn, txids = cur.fetchone()
            position = Position(
                "postgresql",
                "exported_snapshot",
                lsn=lsn,
                pg_snapshot=snapshot_id,
                txid_snapshot=txids,
            )
            cur.execute("SELECT to_regclass(%s)::oid", (qualified,))
            oid = cur.fetchone()[0]
            if oid is None:
                raise TableNotFoundError(
                    f"no table {schema}.{name} in database {db!r}",
                    "check --table (SCHEMA.TABLE; the schema defaults to public)",
                )
            cur.execute("SELECT has_table_privilege(%s, 'SELECT')", (oid,))
            if not cur.fetchone()[0]:
                raise SourcePrivilegeError(
                    f"user {user!r} may not SELECT from {schema}.{name}",
                    f"GRANT SELECT ON {qualified} TO {_quote(user)};",
                )
            cur.execute(
                "SELECT a.attname, t.typname, t.typtype, a.atttypmod FROM pg_attribute a "
                "JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = %s AND a.attnum > 0 "
                "AND NOT a.attisdropped ORDER BY a.attnum",
                (oid,),
            )
            columns = [
                column_for(f"{schema}.{name}", n, typname, typtype, typmod, n in as_text)
                for n, typname, typtype, typmod in cur.fetchall()
                if n not in exclude
            ]
            cur.execute(
                "SELECT a.attname, t.typname FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "JOIN pg_type t ON t.oid = a.atttypid WHERE i.indrelid = %s AND i.indisprimary",
                (oid,),
            )
            key = cur.fetchall()
            cur.execute(
                "SELECT GREATEST(reltuples, 0)::bigint, pg_relation_size(oid) / "
                "current_setting('block_size')::int FROM pg_class WHERE oid = %s",
                (oid,),
            )
            estimated_rows, pages = cur.fetchone()
            bounds: dict[str, tuple[int, int]] = {}
            quoted_key = ""
            cur.execute("SELECT current_setting('server_version_num')::int")
            if cur.fetchone()[0] >= TID_RANGE_SCANS:
                # Heap ranges: TID range scans read pages in order without an index (at 10M
                # rows 12-20% faster than key ranges through the primary key's index).
                chunks = page_ranges(pages, estimated_rows, chunk_rows)
                heap = tid_bounds(pages, estimated_rows, chunk_rows)
                bounds = dict(zip(chunks, heap, strict=True))
            elif len(key) == 1 and key[0][1] in ("int2", "int4", "int8"):
                quoted_key = _quote(key[0][0])
                cur.execute(f"SELECT min({quoted_key}), max({quoted_key}) FROM {qualified}")
                low, high = cur.fetchone()
                chunks = ["TRUE"]
                if low is not None:
                    chunks = key_ranges(quoted_key, low, high, estimated_rows, chunk_rows)
                    spans = key_bounds(low, high, estimated_rows, chunk_rows)
                    bounds = dict(zip(chunks, spans, strict=True))
            else:
                chunks = page_ranges(pages, estimated_rows, chunk_rows)
                log_event(
                    log,
                    "chunked_by_ctid",
                    table=f"{schema}.{name}",
                    reason="no primary key" if not key else "primary key is not one integer",
                    chunks=len(chunks),
                )
    except SnapshotError:
        control.close()
        raise
    except psycopg2.Error as exc:
        control.close()
        raise translate_error(exc, user, qualified) from None
    if not columns:
        control.close()
        raise SnapshotError(f"no columns left to read in {schema}.{name}", "check --exclude")
    select_list = ", ".join(f"{c.select} AS {_quote(c.name)}" for c in columns)
    select = f"SELECT {select_list} FROM {qualified}"
    lake_db = db if schema == "public" else f"{db}_{schema}"
    return PostgresSnapshot(
        dsn,
        user,
        lake_db,
        name,
        columns,
        chunks,
        estimated_rows,
        position,
        workers,
        control,
        select,
        bounds,
        quoted_key,
        copy_select(columns, qualified),
    )
