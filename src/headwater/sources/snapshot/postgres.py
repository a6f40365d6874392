"""PostgreSQL snapshots: one exported snapshot, chunks read as COPY CSV (ADBC behind it).

The control connection (psycopg2) opens a REPEATABLE READ, READ ONLY transaction, exports its
snapshot with `pg_export_snapshot()` and reads the WAL LSN, the catalog and the table's size in
that same transaction. Each worker connection (psycopg2 for COPY CSV, see postgres_copy; ADBC when
needed, see postgres_adbc) runs `SET TRANSACTION SNAPSHOT '<id>'` before its first chunk, so every
chunk sees exactly the control transaction's data. The control transaction stays open until the
snapshot is written (an exported snapshot dies with it).

Chunks: heap position (ctid) ranges, which PostgreSQL 14+ scans as TID ranges without an index;
older servers read integer primary key ranges, or ctid ranges without one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg2

from headwater.logs import log_event
from headwater.sources.snapshot.errors import (
    SnapshotError,
    SourceConnectError,
    SourcePrivilegeError,
    TableNotFoundError,
)
from headwater.sources.snapshot.plan import (
    Column,
    key_bounds,
    key_ranges,
    page_ranges,
    tid_bounds,
)
from headwater.sources.snapshot.position import Position
from headwater.sources.snapshot.postgres_adbc import AdbcReader
from headwater.sources.snapshot.postgres_copy import CopyReader, copy_select, open_copy_connection
from headwater.sources.snapshot.postgres_types import column_for, quote

log = logging.getLogger("headwater.snapshot.postgres")

TID_RANGE_SCANS = 140000  # server_version_num from which `ctid >= x AND ctid < y` scans a range


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
    def reader(self) -> Iterator[AdbcReader | CopyReader]:
        assert self.position.pg_snapshot is not None
        fallback = AdbcReader(self.dsn, self.position.pg_snapshot, self.select, self.columns)
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
    qualified = f"{quote(schema)}.{quote(name)}"
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
                    f"GRANT SELECT ON {qualified} TO {quote(user)};",
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
                quoted_key = quote(key[0][0])
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
    select_list = ", ".join(f"{c.select} AS {quote(c.name)}" for c in columns)
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
