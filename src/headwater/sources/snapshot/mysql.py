"""MySQL/MariaDB snapshots: worker connections opened inside one consistent snapshot.

Consistency, the way mydumper does it: the control connection takes `FLUSH TABLES WITH READ LOCK`,
reads the binlog position and GTID set, then it and every worker connection run `START TRANSACTION
WITH CONSISTENT SNAPSHOT`, and the lock is released. The lock lasts milliseconds; every connection's
snapshot is the locked instant. Without the RELOAD privilege (no FTWRL) one connection reads
everything, and the position comes from MariaDB's `binlog_snapshot_file/position` status, which
InnoDB keeps consistent with that transaction.

Chunks: integer primary key ranges, read as server-packed CSV (mysql_packed); else one unchunked
read (logged) through mysqlclient's text protocol (values as bytes, parsed by Arrow casts, see
mysql_types), which is also the fallback for tables and values the packed read cannot take.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import MySQLdb
import pyarrow as pa

from headwater.logs import log_event
from headwater.sources.snapshot.errors import (
    SnapshotError,
    TableNotFoundError,
)
from headwater.sources.snapshot.mysql_connect import (
    binlog_position,
    connect_args,
    open_connection,
    translate_error,
)
from headwater.sources.snapshot.mysql_packed import (
    MAX_PACKED_BYTES,
    PackedReader,
    packable,
    packed_select,
)
from headwater.sources.snapshot.mysql_types import column_for, quote, to_array
from headwater.sources.snapshot.plan import Column, key_bounds, key_ranges
from headwater.sources.snapshot.position import Position

log = logging.getLogger("headwater.snapshot.mysql")

BATCH_ROWS = 65_536
LOCK_WAIT_S = 30
_START = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"


class _TextReader:
    def __init__(self, conn: Any, select: str, columns: list[Column], table: str) -> None:
        self.conn, self.select, self.columns, self.table = conn, select, columns, table
        self.names = [c.name for c in columns]

    def read(self, where: str) -> Iterator[pa.RecordBatch]:
        self.conn.query(f"{self.select} WHERE {where}")
        result = self.conn.use_result()
        while rows := result.fetch_row(BATCH_ROWS):
            arrays = [
                to_array(values, column, self.table)
                for values, column in zip(zip(*rows, strict=True), self.columns, strict=True)
            ]
            yield pa.RecordBatch.from_arrays(arrays, self.names)


@dataclass
class MySqlSnapshot:
    """A table opened in consistent snapshots; implements run.OpenSnapshot."""

    args: dict[str, Any]
    db: str
    table: str
    columns: list[Column]
    chunks: list[str]
    estimated_rows: int
    position: Position
    workers: int
    select: str
    control: Any = field(repr=False)
    idle: list[Any] = field(default_factory=list, repr=False)
    # The packed read (mysql_packed): chunk clause → [start, stop) of the integer key; empty
    # when the table is read through the text protocol only.
    bounds: dict[str, tuple[int, int]] = field(default_factory=dict)
    quoted_key: str = ""
    packed_limit: int = 0
    packed_sql: str = ""

    @contextmanager
    def reader(self) -> Iterator[_TextReader | PackedReader]:
        conn = self.idle.pop()  # opened inside the snapshot by open_snapshot
        try:
            text = _TextReader(conn, self.select, self.columns, f"{self.db}.{self.table}")
            if not self.bounds:
                yield text
                return
            yield PackedReader(
                conn,
                text,
                self.columns,
                self.packed_sql,
                self.quoted_key,
                self.bounds,
                self.packed_limit,
            )
        except MySQLdb.Error as exc:
            raise translate_error(exc, self.args["user"], f"{self.db}.{self.table}") from None
        finally:
            conn.close()

    def close(self) -> None:
        for conn in [*self.idle, self.control]:
            conn.close()
        self.idle.clear()


def open_snapshot(
    url: str,
    table: str,
    *,
    workers: int = 4,
    chunk_rows: int = 250_000,
    as_text: frozenset[str] = frozenset(),
    exclude: frozenset[str] = frozenset(),
) -> MySqlSnapshot:
    """Take the consistent snapshot, read the catalog and plan chunks."""
    args = connect_args(url)
    db, _, name = table.rpartition(".")
    db = db or args.get("database", "")
    if not db:
        raise SnapshotError(
            f"no database given for table {table!r}", "use --table DB.TABLE or put /DB in the URL"
        )
    qualified = f"{quote(db)}.{quote(name)}"
    user = args["user"]
    opened: list[Any] = []
    try:
        control = open_connection(args, raw=False)
        opened.append(control)
        cur = control.cursor()
        locked = workers > 1
        if locked:
            # FLUSH TABLES WITH READ LOCK waits for running writes; never wait long for them.
            cur.execute(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_S}")
            try:
                cur.execute("FLUSH TABLES WITH READ LOCK")
            except MySQLdb.OperationalError as exc:
                if exc.args[0] == 1205:
                    raise SnapshotError(
                        f"could not take FLUSH TABLES WITH READ LOCK within {LOCK_WAIT_S} s: "
                        "long-running statements hold table locks",
                        "retry when they are done, or run with --workers 1 (no lock needed)",
                    ) from None
                if exc.args[0] not in (1227, 1045):
                    raise
                locked = False
                log_event(
                    log,
                    "single_connection_snapshot",
                    reason="no RELOAD privilege for FLUSH TABLES WITH READ LOCK",
                    fix=f"GRANT RELOAD ON *.* TO '{user}'@'%' to read with {workers} connections",
                )
        if locked:
            file, pos, gtid = binlog_position(cur)
            control.query(_START)
            for _ in range(workers):
                conn = open_connection(args, raw=True)
                opened.append(conn)
                conn.query(_START)
            cur.execute("UNLOCK TABLES")
            position = Position("mysql", "read_lock", binlog_file=file, binlog_pos=pos, gtid=gtid)
            idle = opened[1:]
        else:
            workers = 1
            conn = open_connection(args, raw=True)
            opened.append(conn)
            conn.query(_START)
            control.query(_START)
            conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'")
            status = {k.decode(): v.decode() for k, v in conn.store_result().fetch_row(0)}
            position = Position(
                "mysql",
                "consistent_snapshot_status",
                binlog_file=status.get("Binlog_snapshot_file") or None,
                binlog_pos=int(status["Binlog_snapshot_position"])
                if status.get("Binlog_snapshot_position")
                else None,
                gtid=status.get("Binlog_snapshot_gtid_pos") or None,
            )
            idle = [conn]
        cur.execute(
            "SELECT COLUMN_NAME, COLUMN_TYPE, COLLATION_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (db, name),
        )
        described = cur.fetchall()
        if not described:
            raise TableNotFoundError(
                f"no table {db}.{name} visible to user {user!r}",
                f"check --table, or GRANT SELECT ON `{db}`.`{name}` TO '{user}'@'%';",
            )
        columns = [
            column_for(f"{db}.{name}", n, t, n in as_text)
            for n, t, _ in described
            if n not in exclude
        ]
        text_columns = {c.name for c in columns if pa.types.is_string(c.arrow_type)}
        cur.execute(
            "SELECT k.COLUMN_NAME, c.DATA_TYPE FROM information_schema.KEY_COLUMN_USAGE k "
            "JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = k.TABLE_SCHEMA "
            "AND c.TABLE_NAME = k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME "
            "WHERE k.TABLE_SCHEMA = %s AND k.TABLE_NAME = %s AND k.CONSTRAINT_NAME = 'PRIMARY'",
            (db, name),
        )
        key = cur.fetchall()
        cur.execute(
            "SELECT COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (db, name),
        )
        estimated_rows = int(cur.fetchone()[0])
        bounds: dict[str, tuple[int, int]] = {}
        quoted_key, packed_limit = "", 0
        if len(key) == 1 and key[0][1] in ("tinyint", "smallint", "mediumint", "int", "bigint"):
            quoted_key = quote(key[0][0])
            cur.execute(f"SELECT MIN({quoted_key}), MAX({quoted_key}) FROM {qualified}")
            low, high = cur.fetchone()
            chunks = ["TRUE"]
            if low is not None:
                chunks = key_ranges(quoted_key, int(low), int(high), estimated_rows, chunk_rows)
                spans = key_bounds(int(low), int(high), estimated_rows, chunk_rows)
                bounds = dict(zip(chunks, spans, strict=True))
            unpackable = [c.name for c in columns if not packable(c)]
            if unpackable:
                bounds = {}
                log_event(log, "text_protocol_read", table=f"{db}.{name}", columns=unpackable)
            cur.execute("SELECT @@max_allowed_packet")
            packed_limit = min(int(cur.fetchone()[0]), MAX_PACKED_BYTES)
        else:
            chunks = ["TRUE"]
            log_event(
                log,
                "unchunked_read",
                table=f"{db}.{name}",
                reason="no primary key" if not key else "primary key is not one integer",
            )
    except SnapshotError:
        for conn in opened:
            conn.close()
        raise
    except MySQLdb.Error as exc:
        for conn in opened:
            conn.close()
        raise translate_error(exc, user, f"{db}.{name}") from None
    if not columns:
        for conn in opened:
            conn.close()
        raise SnapshotError(f"no columns left to read in {db}.{name}", "check --exclude")
    select = f"SELECT {', '.join(c.select for c in columns)} FROM {qualified}"
    return MySqlSnapshot(
        args,
        db,
        name,
        columns,
        chunks,
        estimated_rows,
        position,
        workers,
        select,
        control,
        idle,
        bounds,
        quoted_key,
        packed_limit,
        packed_select(
            columns,
            qualified,
            {c for n, _, c in described if c and n in text_columns},
        ),
    )
