"""Incremental snapshots while the change log keeps streaming: DBLog's watermarks, as Debezium.

A user asks for one by inserting into the signal table (`--signal-table db.table`, columns `id
VARCHAR(64) PRIMARY KEY, type VARCHAR(32), data TEXT`), Debezium's format:

    INSERT INTO shop.headwater_signal VALUES
      (UUID(), 'execute-snapshot', '{"data-collections": ["shop.orders"]}');

The reader sees the insert in the stream (binlog, WAL) and reads the tables in primary-key chunks,
each between two watermarks it writes into the same table: the low one, then `SELECT … WHERE pk >
last ORDER BY pk LIMIT n` (no lock, a plain consistent read), then the high one. The chunk's rows
are held; when the stream reaches the low watermark a window opens, and every streamed change of a
key in the chunk drops that key from it (the stream's value is newer than the chunk's read, or as
new); at the high watermark the keys left are emitted as `op: r` (`source.snapshot: "incremental"`,
at the high watermark's stream position), and the next chunk starts. So a snapshot row never
overwrites a newer streamed change, and nothing is locked. The `cdc` user needs INSERT on the
signal table.

Progress survives restarts: every position the reader commits carries `incremental: {"table",
"after", "pending"}` (the table being read, the key its open chunk starts after, the tables still
to read), so a restarted reader re-reads only the chunk that was in flight, at least once like
the changes. Reading chunks and writing watermarks is the database's part (`ChunkSource`:
mysql/chunks.py, postgres/chunks.py); the windows are the same for both.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from headwater.contracts.cdc import OP_READ, encode, encode_key, envelope
from headwater.contracts.topics import cdc_table
from headwater.logs import log_event
from headwater.sources.cdc.config import CdcConfig

log = logging.getLogger("headwater.cdc")

EXECUTE = "execute-snapshot"
OPEN, CLOSE = "snapshot-window-open", "snapshot-window-close"

#: `publisher.change(topic, key, value)`.
Emit = Callable[[str, bytes | None, bytes | None], None]
#: `source(i, namespace, table)`: the `source` block of the i-th row emitted for a table.
SourceBlock = Callable[[int, str, str], dict[str, Any]]


class ChunkSource(Protocol):
    """The database side: primary keys, chunk reads (rows typed as the stream types them) and
    signal-table inserts, on a connection of its own."""

    @property
    def errors(self) -> tuple[type[Exception], ...]:  # what a failed read or insert raises
        ...

    def primary_key(self, namespace: str, table: str) -> list[str]: ...

    def read_chunk(
        self, namespace: str, table: str, pk: list[str], after: tuple[Any, ...] | None, limit: int
    ) -> list[dict[str, Any]]: ...

    def insert_signal(self, signal_id: str, kind: str, collection: str) -> None: ...

    def close(self) -> None: ...


@dataclass
class _Chunk:
    db: str
    table: str
    pk: list[str]
    watermark: str
    rows: dict[bytes, dict[str, Any]] = field(default_factory=dict)
    start: tuple[Any, ...] | None = None  # the key this chunk reads after (None: the first)
    last: tuple[Any, ...] | None = None  # the chunk's highest key (the next chunk starts above)
    open: bool = False


def _storable(key: tuple[Any, ...] | None) -> list[Any] | None:
    """A chunk boundary as JSON that reads back as the same SQL parameters, else None (the
    table is then re-read from its start after a restart: more duplicates, nothing lost)."""
    if key is None or not all(type(v) in (int, str, float) for v in key):
        return None
    return list(key)


class IncrementalSnapshots:
    """Chunks, watermarks and windows of the incremental snapshots of one reader."""

    def __init__(
        self,
        config: CdcConfig,
        source: ChunkSource,
        emit: Emit,
        progress: dict[str, Any] | None = None,
    ) -> None:
        """`progress`: the `incremental` block of the stored position, to go on from."""
        assert config.signal_table is not None
        self.config = config
        self.source = source
        self.emit = emit
        self.chunk_rows = config.chunk_rows
        self.signal_db, self.signal_table = config.signal_table.split(".", 1)
        self._pending: deque[tuple[str, str]] = deque()
        self._chunk: _Chunk | None = None
        self._resume_after: tuple[Any, ...] | None = None
        self.emitted = 0
        if progress:
            self._restore(progress)

    def progress(self) -> dict[str, Any] | None:
        """What a restart needs to go on (`Publisher.carry` stores it in each position); None
        when no snapshot is running."""
        chunk = self._chunk
        if chunk is None and not self._pending:
            return None
        pending = [f"{db}.{table}" for db, table in self._pending]
        if chunk is None:
            return {"incremental": {"table": None, "after": None, "pending": pending}}
        table = f"{chunk.db}.{chunk.table}"
        after = _storable(chunk.start)
        return {"incremental": {"table": table, "after": after, "pending": pending}}

    def resume(self) -> None:
        """Go on with the snapshot the stored position was in (call once streaming started)."""
        if self._chunk is None and self._pending:
            log_event(log, "incremental_snapshot_resumed",
                      tables=[f"{db}.{t}" for db, t in self._pending],
                      after=self._resume_after)  # fmt: skip
            self._next(None)

    def _restore(self, progress: dict[str, Any]) -> None:
        tables = [progress["table"]] if progress.get("table") else []
        for name in [*tables, *(progress.get("pending") or [])]:
            db, table = str(name).split(".", 1)
            self._pending.append((db, table))
        after = progress.get("after")
        self._resume_after = tuple(after) if tables and after else None

    def is_signal(self, db: str, table: str) -> bool:
        return db == self.signal_db and table == self.signal_table

    @property
    def window_table(self) -> tuple[str, str] | None:
        """The table whose streamed changes currently drop keys from the open chunk."""
        chunk = self._chunk
        return (chunk.db, chunk.table) if chunk is not None and chunk.open else None

    # -- the binlog side ------------------------------------------------------------------------

    def on_signal(self, row: dict[str, Any], source: SourceBlock) -> None:
        """An inserted signal row; `source(i, namespace, table)` is the `source` block of the
        i-th row emitted for that table (each database names the namespace in its own field)."""
        row = {k: v.decode() if isinstance(v, bytes) else v for k, v in row.items()}
        kind, data = row.get("type"), row.get("data")
        chunk = self._chunk
        if kind == EXECUTE:
            self._request(str(row.get("id")), data)
        elif chunk is not None and row.get("id") == chunk.watermark and kind == OPEN:
            chunk.open = True
        elif chunk is not None and row.get("id") == chunk.watermark + "-close" and kind == CLOSE:
            self._close(chunk, source)

    def on_change(self, key: bytes | None) -> None:
        """A streamed change of the window's table: its key's chunk row is stale."""
        chunk = self._chunk
        if key is not None and chunk is not None and chunk.open:
            chunk.rows.pop(key, None)

    # -- internals ------------------------------------------------------------------------------

    def _request(self, signal_id: str, data: Any) -> None:
        try:
            tables = orjson.loads(data or b"{}").get("data-collections") or []
        except (orjson.JSONDecodeError, AttributeError):
            tables = []
        if not tables or not all(isinstance(t, str) and t.count(".") == 1 for t in tables):
            log_event(log, "snapshot_signal_ignored", logging.ERROR, id=signal_id,
                      reason='data must be {"data-collections": ["db.table", ...]}')  # fmt: skip
            return
        for name in tables:
            db, table = name.split(".", 1)
            self._pending.append((db, table))
        log_event(log, "incremental_snapshot_requested", id=signal_id, tables=tables)
        if self._chunk is None:
            self._next(None)

    def _close(self, chunk: _Chunk, source: SourceBlock) -> None:
        topic = cdc_table(self.config.name, chunk.db, chunk.table)
        now_ms = int(time.time() * 1000)
        for i, (key, row) in enumerate(chunk.rows.items()):
            block = {**source(i, chunk.db, chunk.table), "snapshot": "incremental"}
            self.emit(topic, key, encode(envelope(OP_READ, None, row, block, now_ms)))
        self.emitted += len(chunk.rows)
        self._chunk = None
        self._next(chunk)

    def _next(self, done: _Chunk | None) -> None:
        """Start the next chunk: of the same table after `done`, else of the next table."""
        after: tuple[Any, ...] | None
        while True:
            if done is not None and done.last is not None:
                db, table, after = done.db, done.table, done.last
            elif self._pending:
                db, table = self._pending.popleft()
                after, self._resume_after = self._resume_after, None
            else:
                self.source.close()  # idle until the next request
                return
            try:
                if self._start(db, table, after):
                    return
            except self.source.errors as exc:  # e.g. no INSERT on the signal table: say so, go on
                log_event(log, "incremental_snapshot_failed", logging.ERROR,
                          table=f"{db}.{table}", reason=str(exc),
                          fix=f"GRANT SELECT ON {db}.{table} and INSERT ON "
                              f"{self.signal_db}.{self.signal_table} TO the cdc user")  # fmt: skip
                self.source.close()
            done = None  # that table is finished (or unreadable): the next one

    def _start(self, db: str, table: str, after: tuple[Any, ...] | None) -> bool:
        source = self.source
        pk = source.primary_key(db, table)
        if not pk:
            reason = "no such table or no primary key"
            log_event(log, "incremental_snapshot_skipped", logging.ERROR,
                      table=f"{db}.{table}", reason=reason)  # fmt: skip
            return False
        watermark = str(uuid.uuid4())
        collection = f"{db}.{table}"
        source.insert_signal(watermark, OPEN, collection)
        rows = source.read_chunk(db, table, pk, after, self.chunk_rows)
        source.insert_signal(watermark + "-close", CLOSE, collection)
        if not rows:
            log_event(log, "incremental_snapshot_table_done", table=collection)
            return False
        chunk = _Chunk(db, table, pk, watermark, start=after)
        chunk.rows = {encode_key(pk, row) or b"": row for row in rows}
        chunk.last = tuple(rows[-1][c] for c in pk)
        self._chunk = chunk
        return True

    def close(self) -> None:
        self.source.close()
