"""MySQL/MariaDB connections for snapshots: URL → connect arguments, error translation, the
binlog position read under the read lock.

Worker connections are raw (empty converter map, no unicode decoding: every value is bytes) and
UTC (`time_zone = '+00:00'`, so TIMESTAMP text is UTC), in REPEATABLE READ.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import MySQLdb

from headwater.sources.snapshot.errors import (
    SnapshotError,
    SourceConnectError,
    SourcePrivilegeError,
    TableNotFoundError,
)


def connect_args(url: str) -> dict[str, Any]:
    """mysql://USER:PASSWORD@HOST:PORT/DB → MySQLdb.connect keywords (utf8mb4 always)."""
    parts = urlsplit(url)
    args: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "charset": "utf8mb4",
        "connect_timeout": 10,
    }
    database = parts.path.lstrip("/")
    if database:
        args["database"] = database
    return args


def translate_error(exc: BaseException, user: str, table: str) -> SnapshotError:
    """mysqlclient errors → ours, by MySQL error number."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    text = exc.args[1] if len(exc.args) > 1 else str(exc)
    if code == 1045:
        return SourceConnectError(
            f"MySQL refused the login of user {user!r}: {text}",
            "check the user and password in the URL (mysql://USER:PASSWORD@HOST:PORT/DB)",
        )
    if code in (1044, 1142, 1143):
        return SourcePrivilegeError(
            f"user {user!r} may not read {table}: {text}",
            f"GRANT SELECT ON {table} TO '{user}'@'%';",
        )
    if code == 1049:
        return SourceConnectError(f"MySQL: {text}", "check the database name in the URL")
    if code == 1146:
        return TableNotFoundError(f"no table {table}: {text}", "check --table")
    if code in (2002, 2003, 2005, 2013):
        return SourceConnectError(
            f"cannot connect to MySQL: {text}", "check host, port and that the server runs"
        )
    return SnapshotError(f"MySQL error {code} while reading {table}: {text}", "see the message")


def open_connection(args: dict[str, Any], raw: bool) -> Any:
    """A connection in REPEATABLE READ and UTC; `raw` hands every value over as bytes."""
    conn = MySQLdb.connect(**args, **({"conv": {}, "use_unicode": False} if raw else {}))
    conn.query("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    conn.query("SET time_zone = '+00:00'")
    return conn


def binlog_position(cur: Any) -> tuple[str | None, int | None, str | None]:
    """(file, position, GTID set) as of now: call it while FLUSH TABLES WITH READ LOCK holds."""
    file = pos = gtid = None
    try:
        cur.execute("SHOW MASTER STATUS")
        row = cur.fetchone()
        if row:
            file, pos = row[0], int(row[1])
        cur.execute("SELECT @@GLOBAL.gtid_binlog_pos")
        gtid = cur.fetchone()[0] or None
    except MySQLdb.OperationalError as exc:
        if exc.args[0] != 1193:  # unknown variable: MySQL, not MariaDB
            raise
        cur.execute("SELECT @@GLOBAL.gtid_executed")
        gtid = cur.fetchone()[0] or None
    return file, pos, gtid
