"""Where a binlog session starts, and the stream opened there.

MariaDB: always by GTID (`@slave_connect_state`). mysql-replication ignores `log_file`/`log_pos`
when `is_mariadb=True` and silently replays the binlog from its start, so a file/pos position
(stored by an older reader, or given by hand) is first turned into a GTID with
`BINLOG_GTID_POS(file, pos)`. MySQL: by file/pos (`resume_stream`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import (
    HeartbeatLogEvent,
    MariadbGtidEvent,
    QueryEvent,
    RotateEvent,
    XidEvent,
)
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from headwater.contracts.positions import CdcPosition as Position
from headwater.sources.cdc.config import CdcConfig
from headwater.sources.cdc.mysql import settings

EVENTS = [
    MariadbGtidEvent,
    QueryEvent,
    XidEvent,
    WriteRowsEvent,
    UpdateRowsEvent,
    DeleteRowsEvent,
    RotateEvent,
    HeartbeatLogEvent,
]


@dataclass(frozen=True)
class StartPoint:
    """MariaDB: `gtid` (the state to connect with); MySQL: `file`/`pos`, and `gtid` None.
    On MariaDB `file`/`pos` are only the best known coordinates (the stream names the rest)."""

    is_mariadb: bool
    gtid: str | None
    file: str
    pos: int

    def as_position(self) -> Position:
        return {"gtid": self.gtid, "file": self.file, "pos": self.pos}


def gtid_state(text: str | None) -> dict[int, str]:
    """A GTID list (`domain-server-sequence`, comma-joined) by replication domain."""
    state = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        state[int(part.split("-", 1)[0])] = part
    return state


def start_point(config: CdcConfig, server: Any, position: Position | None) -> StartPoint:
    """Where to start: the stored position, else the server's current one."""
    stored = position or {}
    if server.is_mariadb:
        if stored.get("gtid") is not None:
            gtid = str(stored["gtid"])
        elif stored.get("file"):
            gtid = settings.gtid_at(config.url, stored["file"], int(stored["pos"]))
        else:
            gtid = server.gtid_pos
        return StartPoint(True, gtid or None, stored.get("file") or server.file, server.pos)
    file = stored.get("file") or server.file
    return StartPoint(False, None, file, int(stored.get("pos") or server.pos))


def open_stream(config: CdcConfig, start: StartPoint) -> BinLogStreamReader:
    """A blocking binlog stream from `start`, woken by the server's heartbeat when idle."""
    if start.is_mariadb:
        where: dict[str, Any] = {"is_mariadb": True, "auto_position": start.gtid or ""}
    else:
        where = {"log_file": start.file, "log_pos": start.pos, "resume_stream": True}
    return BinLogStreamReader(
        connection_settings=settings.connection_settings(config.url),
        server_id=config.replica_server_id,
        blocking=True,
        slave_heartbeat=config.heartbeat_s,
        only_events=EVENTS,
        enable_logging=False,
        **where,
    )
