"""Stream a MySQL/MariaDB binlog's row changes into a `Publisher`.

Positions: after each transaction (XID event, or a standalone DDL/TRUNCATE statement) the
position `{"gtid", "file", "pos"}` is committed to the publisher; `gtid` is the server's GTID
state after the transaction (MariaDB: the last GTID of each replication domain, comma-joined),
`file`/`pos` the binlog coordinates after it. Where a session starts: `start`; what each event
becomes: `changes`.

The stream blocks in `fetchone()`; the server's heartbeat (`heartbeat_s`) wakes it on an idle
binlog so delivery reports are served and `stop` is noticed. A lost connection raises
`SourceUnavailableError`; the runner reconnects from the durable position.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import HeartbeatLogEvent, MariadbGtidEvent, QueryEvent, XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from headwater.contracts.positions import CdcPosition as Position
from headwater.contracts.topics import cdc_transaction
from headwater.logs import log_event
from headwater.sources.cdc.config import CdcConfig
from headwater.sources.cdc.errors import SourceUnavailableError
from headwater.sources.cdc.incremental import IncrementalSnapshots
from headwater.sources.cdc.mysql import settings, snapshot
from headwater.sources.cdc.mysql.changes import ChangeEmitter
from headwater.sources.cdc.mysql.chunks import MySqlChunks
from headwater.sources.cdc.mysql.start import gtid_state, open_stream, start_point
from headwater.sources.cdc.publisher import Publisher
from headwater.sources.cdc.transactions import TransactionTracker

log = logging.getLogger("headwater.cdc.mysql")
# mysql-replication warns in free text when it reconnects by itself; our own events say it better.
logging.getLogger("pymysqlreplication").setLevel(logging.ERROR)

_TRUNCATE = re.compile(
    r"^\s*TRUNCATE\s+(?:TABLE\s+)?(?:`?([^`\s.]+)`?\.)?`?([^`\s;]+)`?", re.IGNORECASE
)
_SKIP_QUERIES = ("BEGIN", "XA ", "SAVEPOINT", "ROLLBACK")
_POLL_EVERY = 256


class MySqlReader:
    """One binlog session; `run` returns when `stop` is set."""

    def __init__(self, config: CdcConfig, publisher: Publisher, position: Position | None) -> None:
        self.config = config
        self.publisher = publisher
        self.position = position
        self._transactions = (
            TransactionTracker(cdc_transaction(config.name), publisher.change)
            if config.transactions
            else None
        )
        self._incremental = None
        if config.signal_table:
            progress = (position or {}).get("incremental")
            self._incremental = IncrementalSnapshots(
                config, MySqlChunks(config), publisher.change, progress
            )
            publisher.carry(self._incremental.progress)
        self._changes = ChangeEmitter(config, publisher, self._transactions, self._incremental)
        self._cursor = self._changes.cursor

    def run(self, stop: threading.Event) -> None:
        url = self.config.url
        server = settings.check(url)
        position = self.position
        if position is None and self.config.snapshot:
            position = snapshot.take(self.config, server.is_mariadb, self.publisher)
            self.position = position  # a reconnect must not take it again
        start = start_point(self.config, server, position)
        self._gtid = gtid_state(start.gtid)
        self._cursor.connector = "mariadb" if server.is_mariadb else "mysql"
        self._cursor.file = start.file
        stream = open_stream(self.config, start)
        log_event(
            log,
            "binlog_started",
            server=server.version,
            gtid=start.gtid,
            file=start.file,
            pos=None if start.is_mariadb else start.pos,
        )
        if position is None:
            # Store where this first run starts, so changes made while it is down are not
            # skipped by a restart that found no position.
            self.publisher.commit(start.as_position())
        try:
            self._stream(stream, stop)
        except pymysql.Error as exc:
            raise settings.translate(exc, url) from None
        except (OSError, EOFError) as exc:
            raise SourceUnavailableError(
                f"binlog stream from {url.host}:{url.port} broke: {exc}"
            ) from None
        finally:
            stream.close()
            if self._incremental is not None:
                self._incremental.close()

    def _stream(self, stream: BinLogStreamReader, stop: threading.Event) -> None:
        poll = self.publisher.poll
        cursor = self._cursor
        count = 0
        cursor.txn_gtid = None
        cursor.event_pos = 0
        if self._incremental is not None:
            self._incremental.resume()
        while not stop.is_set():
            start = stream.log_pos
            event = stream.fetchone()
            if event is None:  # the server closed the stream
                raise SourceUnavailableError("the server ended the binlog stream")
            cursor.file = stream.log_file
            cursor.event_pos = _event_start(event, start)  # `source.pos` of its changes
            count += 1
            if count % _POLL_EVERY == 0 or isinstance(event, HeartbeatLogEvent):
                poll(0)
            if isinstance(event, WriteRowsEvent | UpdateRowsEvent | DeleteRowsEvent):
                self._changes.rows(event)
            elif isinstance(event, MariadbGtidEvent):
                cursor.txn_gtid = event.gtid
                if self._transactions is not None:
                    self._transactions.start(event.gtid, event.timestamp * 1000)
            elif isinstance(event, XidEvent):
                self._commit(stream)
            elif isinstance(event, QueryEvent):
                self._query(event, stream)
        poll(0)

    def _commit(self, stream: BinLogStreamReader) -> None:
        txn_gtid = self._cursor.txn_gtid
        if txn_gtid is not None:
            self._gtid[int(txn_gtid.split("-", 1)[0])] = txn_gtid
        gtid = ",".join(self._gtid[d] for d in sorted(self._gtid)) or None
        if self._cursor.connector == "mariadb" and gtid is not None:
            # mysql-replication reconnects by itself after some errors, from auto_position:
            # keep that at what this process has read (what it has not acknowledged is queued).
            stream.auto_position = gtid
        if self._transactions is not None:
            self._transactions.end()
        self.publisher.commit({"gtid": gtid, "file": stream.log_file, "pos": stream.log_pos})
        self._cursor.txn_gtid = None

    def _query(self, event: QueryEvent, stream: BinLogStreamReader) -> None:
        query = event.query.strip()
        upper = query[:16].upper()
        if upper.startswith(_SKIP_QUERIES):
            return
        if upper.startswith("COMMIT"):  # non-transactional engines end with a COMMIT query
            self._commit(stream)
            return
        db = event.schema.decode() if isinstance(event.schema, bytes) else str(event.schema)
        match = _TRUNCATE.match(query)
        if match:
            self._changes.truncate(event, match.group(1) or db, match.group(2))
        else:
            self._changes.ddl(event, db, query)
        self._commit(stream)  # DDL and TRUNCATE commit implicitly


def _event_start(event: Any, fallback: int | None) -> int:
    """Where `event` starts in its binlog file: its header's next position minus its size (the
    stream's position before it, when the header has none)."""
    packet = getattr(event, "packet", None)
    end, size = getattr(packet, "log_pos", None), getattr(event, "event_size", None)
    if isinstance(end, int) and isinstance(size, int) and end >= size > 0:
        return end - size
    return fallback or 0
