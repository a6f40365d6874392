"""One topic into its lake table and dead-letter table, exactly once per record.

Order of a flush: dead letters first, then the rows, each an exactly-once append with txns
(`lake.writer`). A crash between the two leaves dead letters whose rows are not committed; the
records are read again and their dead letters are not written twice (the dead-letter table's own
txn versions filter them). A record rejected under one schema might fit after a restart if the
table's schema changed in between (another sink widened it); it is then in both tables, never twice
in either, never in neither.

Repeats: a table whose spec names a dedup key (clickstream's `event_id`) gets a `RepeatFilter`
(`lake.dedup`) with the sink's window; each commit attempt leaves out the rows whose key its
batch or the table already holds, and the report counts them (`duplicates`). Their offsets are
still covered by the commit's txns: a repeat is consumed, never written, and never read again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from headwater.lake.convert import Converted, Converter
from headwater.lake.dedup import RepeatFilter, Repeats
from headwater.lake.tables import TableSpec
from headwater.lake.writer import LakeTable
from headwater.sink.buffer import Batch

DEAD_LETTER_SCHEMA = pa.schema(
    [
        pa.field("topic", pa.string()),
        pa.field("key", pa.binary()),
        pa.field("value", pa.binary()),
        pa.field("reason", pa.string()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("rejected_at", pa.timestamp("us", tz="UTC")),
        pa.field("event_date", pa.date32()),
        pa.field("_partition", pa.int32()),
        pa.field("_offset", pa.int64()),
    ]
)


NO_REPEATS = Repeats()


@dataclass(frozen=True, slots=True)
class FlushReport:
    """What one flush committed (for the per-commit log line)."""

    table: str
    version: int | None
    rows: int
    rejected: int
    attempts: int
    seconds: float
    offsets: dict[int, tuple[int, int]]  # partition -> (first, last) offsets of the batch
    repeats: Repeats = NO_REPEATS  # rows left out: their key is in the batch or table already


class TopicSink:
    """Writes batches of one topic into `<lake>/<table>` and `<lake>/<table>_dead_letters`."""

    def __init__(self, lake: Path, spec: TableSpec, sink: str, dedup_window_s: float = 0.0) -> None:
        self.spec = spec
        self.table = LakeTable(lake / spec.name, spec.partition_column, sink, spec.topic)
        self.dead = LakeTable(lake / spec.dead_letter_name, "event_date", sink, spec.topic)
        self.converter = Converter(spec)
        self.repeats: RepeatFilter | None = None
        if spec.dedup_key is not None and spec.arrival is not None and dedup_window_s > 0:
            self.repeats = RepeatFilter(
                lake / spec.name, spec.dedup_key, spec.arrival, dedup_window_s
            )

    def start_offsets(self, partitions: list[int]) -> dict[int, int | None]:
        """Where each partition resumes: the stored txn version + 1 (None: from the start)."""
        return {p: None if v is None else v + 1 for p, v in self.table.stored(partitions).items()}

    def flush(self, batch: Batch) -> FlushReport:
        started = time.monotonic()
        known = self.table.schema() or self.spec.schema
        # Converted against the current schema first, so the rejects commit before the rows.
        first = self._convert(batch, known)

        def rows(schema: pa.Schema | None) -> pa.Table:
            schema = schema or self.spec.schema
            if schema.equals(known, check_metadata=True):
                return first.table
            return self._convert(batch, schema).table  # the table changed under us

        rejected = 0
        if first.rejected:
            dead = self.dead.append_once(lambda _: self._dead_letters(batch, first), batch.last)
            rejected = dead.rows
        keep = None if self.repeats is None else self.repeats.apply
        result = self.table.append_once(rows, batch.last, keep)
        repeats = (
            NO_REPEATS if self.repeats is None or result.version is None else self.repeats.last
        )
        return FlushReport(
            table=self.spec.name,
            version=result.version,
            rows=result.rows,
            rejected=rejected,
            attempts=result.attempts,
            seconds=time.monotonic() - started,
            offsets={p: (batch.first[p], batch.last[p]) for p in sorted(batch.last)},
            repeats=repeats,
        )

    def _convert(self, batch: Batch, schema: pa.Schema) -> Converted:
        return self.converter.convert(
            batch.values, batch.partitions, batch.offsets, batch.timestamps_ms, schema
        )

    def _dead_letters(self, batch: Batch, converted: Converted) -> pa.Table:
        return dead_letter_rows(batch, [(r.index, r.reason) for r in converted.rejected])

    def close(self) -> None:
        self.converter.close()


def dead_letter_rows(batch: Batch, rejected: list[tuple[int, str]]) -> pa.Table:
    """Dead-letter rows for the records of `batch` at these indexes, with their reasons."""
    idx = [i for i, _ in rejected]
    now = time.time_ns() // 1000
    stamps = pa.array(
        [(batch.timestamps_ms[i] or now // 1000) * 1000 for i in idx],
        pa.int64(),
    ).cast(pa.timestamp("us", tz="UTC"))
    return pa.table(
        {
            "topic": pa.array([batch.topic] * len(idx), pa.string()),
            "key": pa.array([batch.keys[i] for i in idx], pa.binary()),
            "value": pa.array([batch.values[i] for i in idx], pa.binary()),
            "reason": pa.array([reason for _, reason in rejected], pa.string()),
            "timestamp": stamps,
            "rejected_at": pa.array([now] * len(idx), pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "event_date": stamps.cast(pa.date32()),
            "_partition": pa.array([batch.partitions[i] for i in idx], pa.int32()),
            "_offset": pa.array([batch.offsets[i] for i in idx], pa.int64()),
        },
        schema=DEAD_LETTER_SCHEMA,
    )
