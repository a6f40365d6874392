"""The initial snapshot of a PostgreSQL database (op "r"), consistent with the slot's stream.

The slot is created on the replication connection with an exported snapshot
(`CREATE_REPLICATION_SLOT … LOGICAL wal2json`, PostgreSQL's default EXPORT_SNAPSHOT); a second
connection reads every captured table in a REPEATABLE READ transaction that adopts it
(`SET TRANSACTION SNAPSHOT`), so it sees exactly the rows committed before the slot's consistent
point, and streaming starts at that point: nothing is read twice or missed in the hand-off.

Columns are read as text and typed with the stream's converters, so a row reads the same whether
it came from the snapshot or from wal2json. The snapshot ends with one commit whose position is
the consistent point; a reader killed mid-snapshot stored no position, and the next start drops
the half-used slot and takes the snapshot again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg2
from psycopg2 import sql

from headwater.contracts.cdc import OP_READ, VERSION, encode, encode_key, envelope
from headwater.contracts.topics import cdc_table
from headwater.logs import log_event
from headwater.sources.cdc.config import CdcConfig
from headwater.sources.cdc.postgres.decode import converter, lsn_to_str
from headwater.sources.cdc.postgres.setup import dsn
from headwater.sources.cdc.publisher import Publisher

log = logging.getLogger("headwater.cdc.postgres")

_FETCH = 5000


def _bool(text: str) -> bool:
    return text in ("true", "t")


#: Text output of the types wal2json writes as JSON numbers or booleans.
_TEXT_TO_JSON: dict[str, Callable[[str], Any]] = {
    "smallint": int,
    "integer": int,
    "bigint": int,
    "oid": int,
    "real": float,
    "double precision": float,
    "boolean": _bool,
}


def _tables(cur: Any, wanted: tuple[str, ...]) -> list[tuple[str, str]]:
    cur.execute(
        """
        SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%'
        ORDER BY 1, 2
        """
    )
    return [(s, t) for s, t in cur.fetchall() if not wanted or f"{s}.{t}" in wanted]


def columns_of(cur: Any, schema: str, table: str) -> tuple[list[tuple[str, str]], list[str]]:
    cur.execute(
        """
        SELECT a.attname, format_type(a.atttypid, NULL),
               COALESCE(a.attnum = ANY(i.indkey), false)
        FROM pg_attribute a
        LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
        WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (sql.Identifier(schema, table).as_string(cur),),
    )
    rows = cur.fetchall()
    return [(name, pg_type) for name, pg_type, _ in rows], [name for name, _, pk in rows if pk]


Converters = list[tuple[str, Callable[[str], Any] | None]]


def typed(columns: list[tuple[str, str]]) -> Converters:
    """Per column, what turns its text into the value wal2json would have given."""
    return [(name, _TEXT_TO_JSON.get(pg_type) or converter(pg_type)) for name, pg_type in columns]


def as_text(columns: list[tuple[str, str]]) -> sql.Composable:
    """`"a"::text, "b"::text, …`: every column as its text output."""
    return sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(n)) for n, _ in columns)


def typed_row(convert: Converters, values: Any) -> dict[str, Any]:
    row = {}
    for (name, fn), value in zip(convert, values, strict=True):
        row[name] = fn(value) if fn is not None and value is not None else value
    return row


def take(config: CdcConfig, snapshot_name: str, lsn: int, publisher: Publisher) -> int:
    """Emit every row of the captured tables as op "r"; returns how many rows."""
    conn = psycopg2.connect(dsn(config.url))
    total = 0
    started = time.monotonic()
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            cur.execute("SET TRANSACTION SNAPSHOT %s", (snapshot_name,))
            tables = _tables(cur, config.tables)
            for schema, table in tables:
                columns, pk = columns_of(cur, schema, table)
                total += _table(conn, config, schema, table, columns, pk, lsn, publisher)
        conn.rollback()
    finally:
        conn.close()
    publisher.commit({"lsn": lsn_to_str(lsn), "lsn_int": lsn, "txId": None})
    log_event(
        log,
        "snapshot_taken",
        tables=len(tables),
        rows=total,
        lsn=lsn_to_str(lsn),
        seconds=round(time.monotonic() - started, 3),
    )
    return total


def _table(
    conn: Any,
    config: CdcConfig,
    schema: str,
    table: str,
    columns: list[tuple[str, str]],
    pk: list[str],
    lsn: int,
    publisher: Publisher,
) -> int:
    convert = typed(columns)
    query = sql.SQL("SELECT {} FROM {}").format(as_text(columns), sql.Identifier(schema, table))
    topic = cdc_table(config.name, schema, table)
    count = 0
    with conn.cursor(name=f"hw_snapshot_{count}") as cur:
        cur.itersize = _FETCH
        cur.execute(query)
        for values in cur:
            row = typed_row(convert, values)
            source: dict[str, Any] = {
                "version": VERSION,
                "connector": "postgresql",
                "name": config.name,
                "ts_ms": int(time.time() * 1000),
                "snapshot": "true",
                "db": config.url.database,
                "sequence": None,
                "schema": schema,
                "table": table,
                "txId": None,
                "lsn": lsn,
                "xmin": None,
            }
            publisher.change(
                topic,
                encode_key(pk, row),
                encode(envelope(OP_READ, None, row, source, source["ts_ms"])),
            )
            count += 1
            if count % 1000 == 0:
                publisher.poll(0)
    return count
