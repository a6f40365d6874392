"""The initial snapshot of a MariaDB server (op "r"), consistent with the binlog stream after it.

`START TRANSACTION WITH CONSISTENT SNAPSHOT` gives an InnoDB read view, and MariaDB reports the
binlog coordinates of exactly that view in `binlog_snapshot_file` / `binlog_snapshot_position`
(no FLUSH TABLES WITH READ LOCK needed); `BINLOG_GTID_POS` turns them into the GTID the stream
resumes from. Every row visible in the view is emitted, then one commit with that position: the
stream starts after the last transaction the snapshot saw. A reader killed mid-snapshot stored no
position, so the next start takes the snapshot again. MySQL has no `binlog_snapshot_*`: refused.

Values come from pymysql with the session in UTC, so TIMESTAMP columns read as in the binlog.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pymysql
import pymysql.cursors
from pymysql.constants import FIELD_TYPE

from headwater.contracts.cdc import OP_READ, VERSION, encode, encode_key, envelope
from headwater.contracts.positions import CdcPosition as Position
from headwater.contracts.topics import cdc_table
from headwater.logs import log_event
from headwater.sources.cdc.config import CdcConfig
from headwater.sources.cdc.errors import SourceConfigError
from headwater.sources.cdc.mysql import settings
from headwater.sources.cdc.publisher import Publisher

log = logging.getLogger("headwater.cdc.mysql")

_SYSTEM = ("mysql", "sys", "performance_schema", "information_schema")
_FETCH = 5000


def quote(name: str) -> str:
    """A MySQL identifier, backquoted (a backquote inside doubled)."""
    return "`" + name.replace("`", "``") + "`"


def _utc(value: Any) -> Any:
    return value.isoformat() + "Z" if hasattr(value, "isoformat") else value


def take(config: CdcConfig, is_mariadb: bool, publisher: Publisher) -> Position:
    """Emit every row of the captured tables; returns (and commits) the position after them."""
    if not is_mariadb:
        raise SourceConfigError(
            "--snapshot needs MariaDB (binlog_snapshot_file/position); MySQL is not supported yet",
            "start without --snapshot",
        )
    url = config.url
    started = time.monotonic()
    try:
        conn = pymysql.connect(
            **settings.connection_settings(url), cursorclass=pymysql.cursors.SSCursor
        )
    except pymysql.Error as exc:
        raise settings.translate(exc, url) from None
    total = 0
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION time_zone = '+00:00'")
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            cur.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
            status = dict(cur.fetchall())
            file, pos = status["Binlog_snapshot_file"], int(status["Binlog_snapshot_position"])
            cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (file, pos))
            gtid = cur.fetchone()[0] or None
            tables = _tables(cur, config.tables)
            position = {"gtid": gtid, "file": file, "pos": pos}
            for db, table, pk in tables:
                total += _table(cur, config, db, table, pk, position, publisher)
            cur.execute("COMMIT")
    except pymysql.Error as exc:
        raise settings.translate(exc, url) from None
    finally:
        conn.close()
    publisher.commit(position)
    log_event(
        log,
        "snapshot_taken",
        tables=len(tables),
        rows=total,
        gtid=gtid,
        file=file,
        pos=pos,
        seconds=round(time.monotonic() - started, 3),
    )
    return position


def _tables(cur: Any, wanted: tuple[str, ...]) -> list[tuple[str, str, list[str]]]:
    cur.execute(
        "SELECT t.table_schema, t.table_name, k.column_name FROM information_schema.tables t "
        "LEFT JOIN information_schema.key_column_usage k ON k.table_schema = t.table_schema "
        "AND k.table_name = t.table_name AND k.constraint_name = 'PRIMARY' "
        "WHERE t.table_type = 'BASE TABLE' AND t.table_schema NOT IN %s "
        "ORDER BY t.table_schema, t.table_name, k.ordinal_position",
        (_SYSTEM,),
    )
    tables: dict[tuple[str, str], list[str]] = {}
    for db, table, column in cur.fetchall():
        if wanted and f"{db}.{table}" not in wanted:
            continue
        keys = tables.setdefault((db, table), [])
        if column is not None:
            keys.append(column)
    return [(db, table, pk) for (db, table), pk in tables.items()]


def primary_keys(cur: Any, db: str, table: str) -> list[str]:
    """The primary-key columns of `db.table` in key order (empty: no key, or no such table)."""
    cur.execute(
        "SELECT column_name FROM information_schema.key_column_usage WHERE table_schema = %s "
        "AND table_name = %s AND constraint_name = 'PRIMARY' ORDER BY ordinal_position",
        (db, table),
    )
    return [row[0] for row in cur.fetchall()]


def read_rows(cur: Any) -> Iterator[dict[str, Any]]:
    """The executed query's rows as the stream writes them (TIMESTAMP as UTC with a Z)."""
    names = [d[0] for d in cur.description]
    utc = [i for i, d in enumerate(cur.description) if d[1] == FIELD_TYPE.TIMESTAMP]
    while rows := cur.fetchmany(_FETCH):
        for values in rows:
            if utc:
                values = list(values)
                for i in utc:
                    values[i] = _utc(values[i]) if values[i] is not None else None
            yield dict(zip(names, values, strict=True))


def _table(
    cur: Any,
    config: CdcConfig,
    db: str,
    table: str,
    pk: list[str],
    position: Position,
    publisher: Publisher,
) -> int:
    cur.execute(f"SELECT * FROM {quote(db)}.{quote(table)}")
    topic = cdc_table(config.name, db, table)
    count = 0
    for row in read_rows(cur):
        now_ms = int(time.time() * 1000)
        source = {
            "version": VERSION,
            "connector": "mariadb",
            "name": config.name,
            "ts_ms": now_ms,
            "snapshot": "true",
            "db": db,
            "sequence": None,
            "table": table,
            "server_id": 0,
            "gtid": position["gtid"],
            "file": position["file"],
            "pos": position["pos"],
            "row": 0,
            "thread": None,
            "query": None,
        }
        publisher.change(
            topic, encode_key(pk, row), encode(envelope(OP_READ, None, row, source, now_ms))
        )
        count += 1
        if count % _FETCH == 0:
            publisher.poll(0)
    publisher.poll(0)
    return count
