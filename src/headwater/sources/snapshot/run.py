"""Run a snapshot: chunks read by worker threads, each on its own connection inside the one
consistent snapshot, batches streamed into a single Delta commit.

Memory is bounded: workers hand batches through a queue of `2 * workers` slots, so at most that many
batches (plus one per worker being read) are in memory whatever the table's size.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from headwater.logs import log_event
from headwater.sources.snapshot.plan import Column, schema_of
from headwater.sources.snapshot.position import Position
from headwater.sources.snapshot.writer import lake_table_name, write_snapshot

log = logging.getLogger("headwater.snapshot")


class ChunkReader(Protocol):
    def read(self, where: str) -> Iterator[pa.RecordBatch]: ...


class OpenSnapshot(Protocol):
    """A source table opened at a consistent position (kept until `close`)."""

    db: str
    table: str
    columns: list[Column]
    chunks: list[str]
    estimated_rows: int
    position: Position
    workers: int

    def reader(self) -> AbstractContextManager[ChunkReader]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SnapshotResult:
    lake_table: str
    version: int
    rows: int
    seconds: float
    position: Position

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


_DONE = object()


def _stream(
    snapshot: OpenSnapshot, stop: threading.Event, on_rows: Callable[[int], None]
) -> Iterator[pa.RecordBatch]:
    chunks: queue.Queue[str] = queue.Queue()
    for chunk in snapshot.chunks:
        chunks.put(chunk)
    workers = max(1, min(snapshot.workers, len(snapshot.chunks)))
    out: queue.Queue[object] = queue.Queue(maxsize=2 * workers)
    schema = schema_of(snapshot.columns)

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            with snapshot.reader() as reader:
                while not stop.is_set():
                    try:
                        where = chunks.get_nowait()
                    except queue.Empty:
                        break
                    for batch in reader.read(where):
                        if batch.num_rows and not put(batch):
                            return
        except BaseException as exc:
            put(exc)
        finally:
            put(_DONE)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    running = workers
    try:
        while running:
            item = out.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                assert isinstance(item, pa.RecordBatch)
                on_rows(item.num_rows)
                if item.schema != schema:
                    item = pa.RecordBatch.from_arrays(item.columns, schema.names).cast(schema)
                yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def run_snapshot(
    snapshot: OpenSnapshot,
    lake: Path | str,
    on_rows: Callable[[int], None] = lambda n: None,
) -> SnapshotResult:
    """Read every chunk of an opened snapshot and write it as one Delta version; closes it."""
    name = lake_table_name(snapshot.db, snapshot.table)
    started = time.perf_counter()
    rows = 0
    failure: list[BaseException] = []

    def count(n: int) -> None:
        nonlocal rows
        rows += n
        on_rows(n)

    def guarded(stop: threading.Event) -> Iterator[pa.RecordBatch]:
        # delta-rs wraps errors raised by the stream; keep ours to raise it unchanged.
        try:
            yield from _stream(snapshot, stop, count)
        except BaseException as exc:
            failure.append(exc)
            raise

    stop = threading.Event()
    try:
        log_event(
            log,
            "snapshot_started",
            table=f"{snapshot.db}.{snapshot.table}",
            chunks=len(snapshot.chunks),
            workers=snapshot.workers,
            estimated_rows=snapshot.estimated_rows,
        )
        try:
            version = write_snapshot(
                lake,
                name,
                schema_of(snapshot.columns),
                guarded(stop),
                snapshot.position,
            )
        except BaseException:
            if failure:
                raise failure[0] from None
            raise
    finally:
        stop.set()
        snapshot.close()
    seconds = time.perf_counter() - started
    log_event(log, "snapshot_written", lake_table=name, version=version, rows=rows)
    return SnapshotResult(name, version, rows, seconds, snapshot.position)
