"""Binlog events → Debezium envelopes handed to the publisher: rows, truncates and DDL.

A change's `source` has `file`/`pos` of its rows event (where it starts) and `row`, its index in
the event: unique per change and in binlog order, as the lake sink's dedup by position needs (two
statements of one transaction may change the same row, each in its own rows event).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pymysqlreplication.row_event import UpdateRowsEvent, WriteRowsEvent

from headwater.contracts.cdc import OP_TRUNCATE, VERSION, encode, encode_key, envelope
from headwater.contracts.topics import cdc_schema, cdc_table
from headwater.sources.cdc.config import CdcConfig
from headwater.sources.cdc.incremental import IncrementalSnapshots
from headwater.sources.cdc.mysql.envelopes import NULL, source_prefix, value
from headwater.sources.cdc.mysql.rows import RowsDecoders
from headwater.sources.cdc.publisher import Publisher
from headwater.sources.cdc.transactions import TransactionTracker

SYSTEM_SCHEMAS = frozenset({"mysql", "sys", "performance_schema", "information_schema"})


@dataclass
class BinlogCursor:
    """Where the reader is: kept by the reader, read into every change's `source`."""

    connector: str = "mysql"
    file: str = ""
    event_pos: int = 0  # where the current event starts
    txn_gtid: str | None = None  # the open transaction's GTID (MariaDB)


class ChangeEmitter:
    """Turns the events the reader hands over into changes on their topics."""

    def __init__(
        self,
        config: CdcConfig,
        publisher: Publisher,
        transactions: TransactionTracker | None,
        incremental: IncrementalSnapshots | None,
    ) -> None:
        self.config, self.publisher = config, publisher
        self.transactions, self.incremental = transactions, incremental
        self.cursor = BinlogCursor()
        self._tables = frozenset(config.tables)
        self._decoders = RowsDecoders()
        self._topics: dict[tuple[str, str], str] = {}

    def source(self, event: Any, db: str, table: str | None, row: int) -> dict[str, Any]:
        cursor = self.cursor
        return {
            "version": VERSION,
            "connector": cursor.connector,
            "name": self.config.name,
            "ts_ms": event.timestamp * 1000,
            "snapshot": "false",
            "db": db,
            "sequence": None,
            "table": table,
            "server_id": event.packet.server_id,
            "gtid": cursor.txn_gtid,
            "file": cursor.file,
            "pos": cursor.event_pos,  # with `row`, unique per change (the lake dedups by it)
            "row": row,
            "thread": None,
            "query": None,
        }

    def wanted(self, db: str, table: str) -> bool:
        if db in SYSTEM_SCHEMAS:
            return False
        return not self._tables or f"{db}.{table}" in self._tables

    def _topic(self, db: str, table: str) -> str:
        topic = self._topics.get((db, table))
        if topic is None:
            topic = self._topics[(db, table)] = cdc_table(self.config.name, db, table)
        return topic

    def rows(self, event: Any) -> None:
        """A write, update or delete rows event: one change per row (two for a key update)."""
        db, table = event.schema, event.table
        incremental = self.incremental
        in_window = False
        if incremental is not None:
            if incremental.is_signal(db, table):
                self._signal(event)
                return
            in_window = incremental.window_table == (db, table)
        wanted = self.wanted(db, table)
        if not (wanted or in_window):
            return
        images = self._decoders.images(event)
        pk = event.primary_key
        pk_cols = [pk] if isinstance(pk, str) and pk else list(pk or ())
        if in_window:
            assert incremental is not None
            for image in images:  # keys changed in the open window: their chunk rows are older
                incremental.on_change(encode_key(pk_cols, image))
        if not wanted:
            return
        topic = self._topic(db, table)
        change = self.publisher.change
        prefix = source_prefix(self.source(event, db, table, 0))
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

    def _signal(self, event: Any) -> None:
        """Rows inserted into the signal table: snapshot requests and our watermarks."""
        assert self.incremental is not None
        if not isinstance(event, WriteRowsEvent):
            return
        for row in event.rows:

            def source(i: int, db: str, table: str, event: Any = event) -> dict[str, Any]:
                return self.source(event, db, table, i)

            self.incremental.on_signal(row["values"], source)

    def truncate(self, event: Any, db: str, table: str) -> None:
        if not self.wanted(db, table):
            return
        source = self.source(event, db, table, 0)
        txn = self._tag(db, table, event)
        self.publisher.change(
            self._topic(db, table),
            None,
            encode(envelope(OP_TRUNCATE, None, None, source, int(time.time() * 1000), txn)),
        )

    def ddl(self, event: Any, db: str, query: str) -> None:
        if db in SYSTEM_SCHEMAS:
            return
        source = self.source(event, db, None, 0)
        self.publisher.change(
            cdc_schema(self.config.name),
            encode({"databaseName": db}),
            encode({"source": source, "databaseName": db, "ddl": query, "tableChanges": []}),
        )

    def _encoded_tag(self, db: str, table: str, event: Any) -> bytes:
        """The change's encoded `transaction` block: `null` unless `--transactions`."""
        if self.transactions is None:
            return NULL
        return encode(self._tag(db, table, event))

    def _tag(self, db: str, table: str, event: Any) -> dict[str, Any] | None:
        """The change's `transaction` block (`--transactions`), else None."""
        tracker = self.transactions
        if tracker is None:
            return None
        if not tracker.open:  # no GTID event (MySQL without GTIDs): the file position names it
            cursor = self.cursor
            tracker.start(f"{cursor.file}:{cursor.event_pos}", event.timestamp * 1000)
        return tracker.tag(f"{db}.{table}")
