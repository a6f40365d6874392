"""Check a MySQL/MariaDB server writes the binlog `headwater cdc` needs, and where it stands.

Row changes can only be captured from a row-based binlog with full images and full metadata
(column names and primary keys travel in the table-map events): `log_bin=ON`,
`binlog_format=ROW`, `binlog_row_image=FULL`, `binlog_row_metadata=FULL`. Every wrong setting is
named together with the statement that fixes it. Connection errors are translated here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pymysql

from headwater.sources.cdc.config import SourceUrl
from headwater.sources.cdc.errors import CdcError, SourceConfigError, SourceUnavailableError

REQUIRED = {"binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL"}

# pymysql error codes
_ACCESS_DENIED = 1045
_SPECIFIC_ACCESS_DENIED = 1227
_UNREACHABLE = {2002, 2003, 2006, 2013, 2055}


def translate(exc: pymysql.Error, url: SourceUrl) -> CdcError:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    where = f"{url.host}:{url.port}"
    if code == _ACCESS_DENIED:
        return SourceConfigError(
            f"MySQL/MariaDB at {where} refused user {url.user!r}: wrong password or unknown user",
            "check the user and password in the source URL",
        )
    if code == _SPECIFIC_ACCESS_DENIED or "REPLICATION SLAVE" in text:
        return SourceConfigError(
            f"user {url.user!r} lacks a privilege on {where}: {text}",
            f"GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO '{url.user}'@'%';",
        )
    if code in _UNREACHABLE or isinstance(exc, pymysql.err.InterfaceError):
        return SourceUnavailableError(f"MySQL/MariaDB at {where} is unreachable: {text}")
    return SourceConfigError(f"MySQL/MariaDB at {where}: {text}")


def connection_settings(url: SourceUrl) -> dict[str, Any]:
    return {
        "host": url.host,
        "port": url.port,
        "user": url.user,
        "passwd": url.password,
        "connect_timeout": 10,
        "charset": "utf8mb4",
    }


@dataclass(frozen=True, slots=True)
class ServerState:
    is_mariadb: bool
    version: str
    server_id: int
    gtid_pos: str  # MariaDB @@gtid_binlog_pos: the last GTID of each domain
    file: str
    pos: int


def check(url: SourceUrl) -> ServerState:
    """Connect, verify the binlog settings and privileges; raise with the fix when wrong."""
    try:
        conn = pymysql.connect(**connection_settings(url))
    except pymysql.Error as exc:
        raise translate(exc, url) from None
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT @@version, @@server_id, @@log_bin, @@binlog_format, @@binlog_row_image, "
                "@@binlog_row_metadata"
            )
            version, server_id, log_bin, *values = cur.fetchone()
            is_mariadb = "mariadb" in version.lower()
            if not log_bin:
                raise SourceConfigError(
                    "binary logging is off on the server",
                    "add to my.cnf [mysqld]: log_bin=mysql-bin, server_id=1, binlog_format=ROW, "
                    "binlog_row_image=FULL, binlog_row_metadata=FULL; then restart the server",
                )
            wrong = [
                (name, value)
                for (name, want), value in zip(REQUIRED.items(), values, strict=True)
                if str(value).upper() != want
            ]
            if wrong:
                raise SourceConfigError(
                    "the binlog cannot carry full row changes: "
                    + ", ".join(
                        f"{name} is {value}, needs {REQUIRED[name]}" for name, value in wrong
                    ),
                    " ".join(f"SET GLOBAL {name} = '{REQUIRED[name]}';" for name, _ in wrong)
                    + " and the same in my.cnf [mysqld] ("
                    + ", ".join(f"{name}={REQUIRED[name]}" for name, _ in wrong)
                    + ") so it survives a restart; sessions opened before keep the old format",
                )
            cur.execute("SHOW MASTER STATUS")
            status = cur.fetchone()
            file, pos = (status[0], int(status[1])) if status else ("", 4)
            gtid_pos = ""
            if is_mariadb:
                cur.execute("SELECT @@gtid_binlog_pos")
                gtid_pos = cur.fetchone()[0] or ""
            return ServerState(is_mariadb, version, int(server_id), gtid_pos, file, pos)
    except pymysql.Error as exc:
        raise translate(exc, url) from None
    finally:
        conn.close()


def gtid_at(url: SourceUrl, file: str, pos: int) -> str:
    """MariaDB: the GTID position equivalent to binlog coordinates (BINLOG_GTID_POS)."""
    try:
        conn = pymysql.connect(**connection_settings(url))
    except pymysql.Error as exc:
        raise translate(exc, url) from None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (file, pos))
            row = cur.fetchone()
    except pymysql.Error as exc:
        raise translate(exc, url) from None
    finally:
        conn.close()
    if row is None or row[0] is None:
        raise SourceConfigError(
            f"binlog position {file}:{pos} is not in the server's binlogs (purged or wrong)",
            "take a new snapshot, then start again with --reset-position",
        )
    return str(row[0])
