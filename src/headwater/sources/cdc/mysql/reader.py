"""Stream a MySQL/MariaDB binlog's row changes into a `Publisher`.

Positions: after each transaction (XID event, or a standalone DDL/TRUNCATE statement) the
position `{"gtid", "file", "pos"}` is committed to the publisher; `gtid` is the server's GTID
state after the transaction (MariaDB: the last GTID of each replication domain, comma-joined),
`file`/`pos` the binlog coordinates after it. A change's `source` has `file`/`pos` of its rows
event (where it starts) and `row`, its index in the event: unique per change and in binlog order,
as the lake sink's dedup by position needs (two statements of one transaction may change the same
row, each in its own rows event).

Resume, MariaDB: always by GTID (`@slave_connect_state`). mysql-replication ignores
`log_file`/`log_pos` when `is_mariadb=True` and silently replays the binlog from its start, so a
file/pos position (stored by an older reader, or given by hand) is first turned into a GTID with
`BINLOG_GTID_POS(file, pos)`. MySQL: by file/pos (`resume_stream`).

The stream blocks in `fetchone()`; the server's heartbeat (`heartbeat_s`) wakes it on an idle
binlog so delivery reports are served and `stop` is noticed. A lost connection raises
`SourceUnavailableError`; the runner reconnects from the durable position.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import (
    HeartbeatLogEvent,
    MariadbGtidEvent,
    QueryEvent,
    RotateEvent,
    XidEvent,
)
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from headwater.logs import log_event
from headwater.sources.cdc.config import CdcConfig
from headwater.sources.cdc.envelope import (
    OP_TRUNCATE,
    VERSION,
    encode,
    encode_key,
    envelope,
    schema_topic,
    table_topic,
    transaction_topic,
)
from headwater.sources.cdc.errors import SourceUnavailableError
from headwater.sources.cdc.incremental import IncrementalSnapshots
from headwater.sources.cdc.mysql import settings, snapshot
from headwater.sources.cdc.mysql.chunks import MySqlChunks
from headwater.sources.cdc.mysql.envelopes import NULL, source_prefix, value
from headwater.sources.cdc.mysql.rows import RowsDecoders
from headwater.sources.cdc.positions import Position
from headwater.sources.cdc.publisher import Publisher
from headwater.sources.cdc.transactions import TransactionTracker

log = logging.getLogger("headwater.cdc.mysql")
# mysql-replication warns in free text when it reconnects by itself; our own events say it better.
logging.getLogger("pymysqlreplication").setLevel(logging.ERROR)

_TRUNCATE = re.compile(
    r"^\s*TRUNCATE\s+(?:TABLE\s+)?(?:`?([^`\s.]+)`?\.)?`?([^`\s;]+)`?", re.IGNORECASE
)
_SKIP_QUERIES = ("BEGIN", "XA ", "SAVEPOINT", "ROLLBACK")
_SYSTEM_SCHEMAS = frozenset({"mysql", "sys", "performance_schema", "information_schema"})
_POLL_EVERY = 256


def _gtid_state(text: str) -> dict[int, str]:
    state = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        state[int(part.split("-", 1)[0])] = part
    return state


class MySqlReader:
    """One binlog session; `run` returns when `stop` is set."""

    def __init__(self, config: CdcConfig, publisher: Publisher, position: Position | None) -> None:
        self.config = config
        self.publisher = publisher
        self.position = position
        self._tables = frozenset(config.tables)
        self._decoders = RowsDecoders()
        self._topics: dict[tuple[str, str], str] = {}
        self._transactions = (
            TransactionTracker(transaction_topic(config.name), publisher.change)
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

    def run(self, stop: threading.Event) -> None:
        url = self.config.url
        server = settings.check(url)
        kwargs: dict[str, Any] = {}
        position = self.position
        if position is None and self.config.snapshot:
            position = snapshot.take(self.config, server.is_mariadb, self.publisher)
            self.position = position  # a reconnect must not take it again
        if server.is_mariadb:
            if position and position.get("gtid") is not None:
                gtid = str(position["gtid"])
            elif position and position.get("file"):
                gtid = settings.gtid_at(url, position["file"], int(position["pos"]))
            else:
                gtid = server.gtid_pos
            kwargs.update(is_mariadb=True, auto_position=gtid)
            self._gtid = _gtid_state(gtid)
            self._file, self._pos = (position or {}).get("file") or server.file, server.pos
        else:
            file = (position or {}).get("file") or server.file
            pos = int((position or {}).get("pos") or server.pos)
            kwargs.update(log_file=file, log_pos=pos, resume_stream=True)
            self._gtid = {}
            self._file, self._pos = file, pos
        self.connector = "mariadb" if server.is_mariadb else "mysql"
        stream = BinLogStreamReader(
            connection_settings=settings.connection_settings(url),
            server_id=self.config.replica_server_id,
            blocking=True,
            slave_heartbeat=self.config.heartbeat_s,
            only_events=[
                MariadbGtidEvent,
                QueryEvent,
                XidEvent,
                WriteRowsEvent,
                UpdateRowsEvent,
                DeleteRowsEvent,
                RotateEvent,
                HeartbeatLogEvent,
            ],
            enable_logging=False,
            **kwargs,
        )
        log_event(
            log,
            "binlog_started",
            server=server.version,
            gtid=kwargs.get("auto_position"),
            file=self._file,
            pos=kwargs.get("log_pos"),
        )
        if position is None:
            # Store where this first run starts, so changes made while it is down are not
            # skipped by a restart that found no position.
            self.publisher.commit(
                {"gtid": kwargs.get("auto_position") or None, "file": self._file, "pos": self._pos}
            )
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
        count = 0
        self._txn_gtid: str | None = None
        self._event_pos = 0
        if self._incremental is not None:
            self._incremental.resume()
        while not stop.is_set():
            start = stream.log_pos
            event = stream.fetchone()
            if event is None:  # the server closed the stream
                raise SourceUnavailableError("the server ended the binlog stream")
            self._file = stream.log_file
            self._event_pos = _event_start(event, start)  # `source.pos` of its changes
            count += 1
            if count % _POLL_EVERY == 0 or isinstance(event, HeartbeatLogEvent):
                poll(0)
            if isinstance(event, WriteRowsEvent | UpdateRowsEvent | DeleteRowsEvent):
                self._rows(event, stream)
            elif isinstance(event, MariadbGtidEvent):
                self._txn_gtid = event.gtid
                if self._transactions is not None:
                    self._transactions.start(event.gtid, event.timestamp * 1000)
            elif isinstance(event, XidEvent):
                self._commit(stream)
            elif isinstance(event, QueryEvent):
                self._query(event, stream)
        poll(0)

    def _commit(self, stream: BinLogStreamReader) -> None:
        if self._txn_gtid is not None:
            self._gtid[int(self._txn_gtid.split("-", 1)[0])] = self._txn_gtid
        gtid = ",".join(self._gtid[d] for d in sorted(self._gtid)) or None
        if self.connector == "mariadb" and gtid is not None:
            # mysql-replication reconnects by itself after some errors, from auto_position:
            # keep that at what this process has read (what it has not acknowledged is queued).
            stream.auto_position = gtid
        if self._transactions is not None:
            self._transactions.end()
        self.publisher.commit({"gtid": gtid, "file": stream.log_file, "pos": stream.log_pos})
        self._txn_gtid = None

    def _source(self, event: Any, db: str, table: str | None, stream: Any, row: int) -> dict:
        return {
            "version": VERSION,
            "connector": self.connector,
            "name": self.config.name,
            "ts_ms": event.timestamp * 1000,
            "snapshot": "false",
            "db": db,
            "sequence": None,
            "table": table,
            "server_id": event.packet.server_id,
            "gtid": self._txn_gtid,
            "file": stream.log_file,
            "pos": self._event_pos,  # with `row`, unique per change (the lake dedups by it)
            "row": row,
            "thread": None,
            "query": None,
        }

    def _topic(self, db: str, table: str) -> str:
        topic = self._topics.get((db, table))
        if topic is None:
            topic = self._topics[(db, table)] = table_topic(self.config.name, db, table)
        return topic

    def _wanted(self, db: str, table: str) -> bool:
        if db in _SYSTEM_SCHEMAS:
            return False
        return not self._tables or f"{db}.{table}" in self._tables

    def _rows(self, event: Any, stream: BinLogStreamReader) -> None:
        db, table = event.schema, event.table
        incremental = self._incremental
        in_window = False
        if incremental is not None:
            if incremental.is_signal(db, table):
                self._signal(event, stream)
                return
            in_window = incremental.window_table == (db, table)
        wanted = self._wanted(db, table)
        if not (wanted or in_window):
            return
        images = self._decoders.images(event)
        pk = event.primary_key
        pk_cols = [pk] if isinstance(pk, str) and pk else list(pk or ())
        if in_window:
            self._drop_from_window(pk_cols, images)
        if not wanted:
            return
        topic = self._topic(db, table)
        change = self.publisher.change
        prefix = source_prefix(self._source(event, db, table, stream, 0))
        now_ms = int(time.time() * 1000)
        tag = self._encoded_tag
        if isinstance(event, WriteRowsEvent):
            for i, after in enumerate(images):
                txn = tag(db, table, event)
                key = encode_key(pk_cols, after)
                change(topic, key, value(b"c", NULL, encode(after), prefix, i, now_ms, txn))
        elif isinstance(event, UpdateRowsEvent):
            for i in range(len(images) // 2):
                before, after = images[2 * i], images[2 * i + 1]
                key = encode_key(pk_cols, after)
                old_key = encode_key(pk_cols, before)
                if old_key != key:  # the primary key changed: delete + create, as Debezium
                    self._key_change(topic, old_key, key, before, after, prefix, i, now_ms, event)
                    continue
                txn = tag(db, table, event)
                change(
                    topic, key, value(b"u", encode(before), encode(after), prefix, i, now_ms, txn)
                )
        else:
            tombstones = self.config.tombstones
            for i, before in enumerate(images):
                key = encode_key(pk_cols, before)
                txn = tag(db, table, event)
                change(topic, key, value(b"d", encode(before), NULL, prefix, i, now_ms, txn))
                if tombstones and key is not None:
                    change(topic, key, None)

    def _key_change(
        self,
        topic: str,
        old_key: bytes | None,
        key: bytes | None,
        before: dict[str, Any],
        after: dict[str, Any],
        prefix: bytes,
        row: int,
        now_ms: int,
        event: Any,
    ) -> None:
        """An update of the primary key: a delete of the old key (and its tombstone), then a
        create of the new one, so that consumers keyed by the primary key see both rows."""
        db, table = event.schema, event.table
        txn = self._encoded_tag(db, table, event)
        delete = value(b"d", encode(before), NULL, prefix, row, now_ms, txn)
        self.publisher.change(topic, old_key, delete)
        if self.config.tombstones and old_key is not None:
            self.publisher.change(topic, old_key, None)
        txn = self._encoded_tag(db, table, event)
        create = value(b"c", NULL, encode(after), prefix, row, now_ms, txn)
        self.publisher.change(topic, key, create)

    def _signal(self, event: Any, stream: BinLogStreamReader) -> None:
        """Rows inserted into the signal table: snapshot requests and our watermarks."""
        assert self._incremental is not None
        if not isinstance(event, WriteRowsEvent):
            return
        for row in event.rows:

            def source(i: int, db: str, table: str, event: Any = event) -> dict[str, Any]:
                return self._source(event, db, table, stream, i)

            self._incremental.on_signal(row["values"], source)

    def _drop_from_window(self, pk_cols: list[str], images: list[dict[str, Any]]) -> None:
        """Keys changed in the open window: their chunk rows are older than the stream."""
        assert self._incremental is not None
        for image in images:
            self._incremental.on_change(encode_key(pk_cols, image))

    def _encoded_tag(self, db: str, table: str, event: Any) -> bytes:
        """The change's encoded `transaction` block: `null` unless `--transactions`."""
        if self._transactions is None:
            return NULL
        return encode(self._tag(db, table, event))

    def _tag(self, db: str, table: str, event: Any) -> dict[str, Any] | None:
        """The change's `transaction` block (`--transactions`), else None."""
        tracker = self._transactions
        if tracker is None:
            return None
        if not tracker.open:  # no GTID event (MySQL without GTIDs): the file position names it
            tracker.start(f"{self._file}:{self._event_pos}", event.timestamp * 1000)
        return tracker.tag(f"{db}.{table}")

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
            tdb, table = match.group(1) or db, match.group(2)
            if self._wanted(tdb, table):
                source = self._source(event, tdb, table, stream, 0)
                now_ms = int(time.time() * 1000)
                txn = self._tag(tdb, table, event)
                self.publisher.change(
                    self._topic(tdb, table),
                    None,
                    encode(envelope(OP_TRUNCATE, None, None, source, now_ms, txn)),
                )
        elif db not in _SYSTEM_SCHEMAS:
            source = self._source(event, db, None, stream, 0)
            self.publisher.change(
                schema_topic(self.config.name),
                encode({"databaseName": db}),
                encode({"source": source, "databaseName": db, "ddl": query, "tableChanges": []}),
            )
        self._commit(stream)  # DDL and TRUNCATE commit implicitly


def _event_start(event: Any, fallback: int | None) -> int:
    """Where `event` starts in its binlog file: its header's next position minus its size (the
    stream's position before it, when the header has none)."""
    packet = getattr(event, "packet", None)
    end, size = getattr(packet, "log_pos", None), getattr(event, "event_size", None)
    if isinstance(end, int) and isinstance(size, int) and end >= size > 0:
        return end - size
    return fallback or 0
