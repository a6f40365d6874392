"""The sink process: a consumer group member that lands its partitions in lake tables.

Any number of sink processes with the same group share the partitions. The Delta tables hold the
progress (txn versions, `lake.txn`); the group's committed offsets are written after each commit
for lag monitoring only and never read. On assignment each partition starts at its stored version
+ 1; on revocation its buffered records are dropped (the next owner reads them again).

Flushing overlaps consuming: a full batch is converted and committed by one flush thread while the
sink thread consumes the next (`_flush` hands it over, `_collect` takes the report). At most one
batch is in flight, and the next flush waits for it, so a partition's commits stay in offset
order; an assignment, a revocation and the end of `run` wait for it too, so the table's txn
versions are final whenever partitions move.

Repeats: a clickstream event whose `event_id` the table already holds, from an arrival at most
`dedup_window_s` earlier, or that its batch holds twice, is consumed but not written (`lake.dedup`;
each commit attempt checks against the table version it commits on, and commits of such a table
are serialised across sinks by a whole-table txn, `lake.writer`), so a client's retry is in the
lake once across restarts, rebalances and kill -9. Each commit's count is in `lake_commit`, the
`headwater_sink_duplicates` counter and a `duplicates_dropped` line with a few of the ids.

Stopping: `stop()`, or the stop event passed in (the CLI sets it on SIGINT/SIGTERM), ends the
loop; what is buffered is committed, then the consumer leaves the group. A kill -9 loses only
the buffer and the batch in flight, which the next owner re-reads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import headwater.transport as hwt
from headwater.contracts.topics import CLICKSTREAM_EVENTS
from headwater.lake.tables import cdc_names, spec_for
from headwater.logs import log_event
from headwater.sink.buffer import Batch, TopicBuffer
from headwater.sink.cdc import CdcTableSink
from headwater.sink.metrics import SinkMetrics
from headwater.sink.topic import FlushReport, TopicSink

log = logging.getLogger("headwater.sink")
LAG_EVERY_S = 1.0  # how often the lag gauge is refreshed (sink.metrics)


@dataclass(frozen=True, slots=True)
class SinkConfig:
    """How a sink batches: a topic's buffer is committed at `max_rows`, `max_bytes` or when its
    oldest record is `max_age_s` old, whichever comes first."""

    lake: Path
    topics: tuple[str, ...] = (CLICKSTREAM_EVENTS,)
    group: str = "headwater-sink"
    max_rows: int = 100_000
    max_bytes: int = 64 << 20
    max_age_s: float = 5.0
    fetch_records: int = 10_000
    consumer: hwt.ConsumerOptions | None = None
    metrics_listen: tuple[str, int] | None = None  # (host, port) of a Prometheus /metrics
    #: A clickstream event whose `event_id` reached the collector at most this long after an
    #: earlier copy's is not written again (`lake.dedup`); 0: no check. One hour covers SDK
    #: retry schedules (backoff over minutes) and costs ~40 bytes of memory per event of the hour.
    dedup_window_s: float = 3600.0
    #: Where a partition the lake holds nothing of starts: None, its earliest record; else the
    #: first record at or after this time (Unix ms), so a new lake on a shared cluster takes
    #: only what was written from then on. Once a table holds a partition, it decides.
    since_ms: int | None = None


class Sink:
    """Consumes `config.topics` in group `config.group` into `<lake>/<table>` until stopped."""

    def __init__(
        self,
        transport: hwt.Transport,
        config: SinkConfig,
        metrics: SinkMetrics | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics
        #: Next offset each assigned partition needs in its table (for lag); None: from the start.
        self._next: dict[tuple[str, int], int | None] = {}
        self._stop = stop or threading.Event()  # set: commit what is held and return
        self._tables = {
            t: table_sink(config.lake, t, config.group, config.dedup_window_s)
            for t in config.topics
        }
        self._buffers = {t: TopicBuffer(t) for t in config.topics}
        self._consumer = transport.consumer(config.group, config.consumer)
        self.commits = 0
        self._lag_at = 0.0
        #: The batch being flushed by `_pool` (one at a time, in order), with its report to come.
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sink-flush")
        self._inflight: tuple[Batch, Future[FlushReport]] | None = None

    def stop(self) -> None:
        """Ask the loop to commit what it holds and return (safe from a signal handler)."""
        self._stop.set()

    def run(self) -> None:
        cfg = self.config
        consumer = self._consumer
        consumer.subscribe(list(cfg.topics), on_assign=self._on_assign, on_revoke=self._on_revoke)
        log_event(log, "sink_started", group=cfg.group, topics=list(cfg.topics), lake=str(cfg.lake))
        try:
            while not self._stop.is_set():
                cols = consumer.consume_columns(cfg.fetch_records, self._wait_s())
                if len(cols):
                    self._route(cols)
                    if self.metrics is not None:
                        for topic, buffer in self._buffers.items():
                            self.metrics.buffered.labels(topic=topic).set(len(buffer))
                self._collect(wait=False)
                if self.metrics is not None and time.monotonic() - self._lag_at >= LAG_EVERY_S:
                    self._lag_at = time.monotonic()
                    for (topic, partition), lag in self.lag().items():
                        self.metrics.lag.labels(topic=topic, partition=str(partition)).set(lag)
                for buffer in self._buffers.values():
                    if self._due(buffer):
                        self._flush(buffer)
            for buffer in self._buffers.values():
                if len(buffer):
                    self._flush(buffer)
            self._collect(wait=True)
        finally:
            self._abandon()
            consumer.close()
            for table in self._tables.values():
                table.close()
            log_event(log, "sink_stopped", group=cfg.group, commits=self.commits)

    def lag(self) -> dict[tuple[str, int], int]:
        """Per assigned partition, records in the broker not yet in the table, from the high
        watermarks the consumer last fetched (partitions not fetched yet are left out). Call it
        from the sink's thread only (sink.metrics)."""
        out = {}
        for (topic, partition), start in self._next.items():
            tp = hwt.TopicPartition(topic, partition)
            low, high = self._consumer.watermarks(tp, cached=True)
            if high < 0 or (start is None and low < 0):
                continue
            out[(topic, partition)] = max(0, high - (low if start is None else start))
        return out

    # -- internals ------------------------------------------------------------------------------

    def _wait_s(self) -> float:
        ages = [b.age_s() for b in self._buffers.values() if len(b)]
        if not ages:
            return 0.5
        return max(0.0, min(0.5, self.config.max_age_s - max(ages)))

    def _due(self, buffer: TopicBuffer) -> bool:
        cfg = self.config
        return len(buffer) > 0 and (
            len(buffer) >= cfg.max_rows
            or buffer.bytes >= cfg.max_bytes
            or buffer.age_s() >= cfg.max_age_s
        )

    def _route(self, cols: hwt.RecordColumns) -> None:
        topics = cols.topic
        if len(self._buffers) == 1 or len(set(topics)) == 1:
            self._buffers[topics[0]].add(
                cols.value, cols.key, cols.partition, cols.offset, cols.timestamp_ms
            )
            return
        for topic, buffer in self._buffers.items():
            idx = [i for i, t in enumerate(topics) if t == topic]
            if idx:
                buffer.add(
                    [cols.value[i] for i in idx],
                    [cols.key[i] for i in idx],
                    [cols.partition[i] for i in idx],
                    [cols.offset[i] for i in idx],
                    [cols.timestamp_ms[i] for i in idx],
                )

    def _flush(self, buffer: TopicBuffer) -> None:
        """Hand the buffer's batch to the flush thread, once the batch before it is committed."""
        batch = buffer.take()
        if self.metrics is not None:
            self.metrics.buffered.labels(topic=batch.topic).set(0)
        self._collect(wait=True)
        self._inflight = (batch, self._pool.submit(self._tables[batch.topic].flush, batch))

    def _collect(self, wait: bool) -> None:
        """The report of the batch in flight, if done (or `wait`): its error is raised here."""
        if self._inflight is None:
            return
        batch, future = self._inflight
        if not wait and not future.done():
            return
        self._inflight = None
        self._flushed(batch, future.result())

    def _abandon(self) -> None:
        """Let a flush in flight end (the loop failed: its outcome no longer matters; the tables
        must not be closed under it), then stop the flush thread."""
        if self._inflight is not None:
            _, future = self._inflight
            self._inflight = None
            try:
                future.result()
            except Exception:
                log.exception("flush in flight when the sink stopped failed")
        self._pool.shutdown(wait=True)

    def _flushed(self, batch: Batch, report: FlushReport) -> None:
        self.commits += 1
        for p, last in batch.last.items():
            if (batch.topic, p) in self._next:
                self._next[(batch.topic, p)] = last + 1
        if self.metrics is not None:
            self.metrics.flushed(batch.topic, report)
        log_event(
            log,
            "lake_commit",
            table=report.table,
            version=report.version,
            rows=report.rows,
            rejected=report.rejected,
            duplicates=report.repeats.dropped,
            records=len(batch),
            attempts=report.attempts,
            seconds=round(report.seconds, 3),
            offsets={str(p): list(r) for p, r in report.offsets.items()},
        )
        if report.repeats.dropped:
            log_event(
                log,
                "duplicates_dropped",
                table=report.table,
                rows=report.repeats.dropped,
                sample=list(report.repeats.sample),
            )
        try:  # informational (lag): the table's txn versions are what a sink resumes from
            self._consumer.commit(
                [hwt.TopicPartition(batch.topic, p, o + 1) for p, o in batch.last.items()],
                asynchronous=True,
            )
        except hwt.TransportError as exc:
            log.warning("offset commit for lag monitoring failed: %s", exc)

    def _starts_since(self, topic: str, partitions: list[int]) -> dict[int, int]:
        """Each partition's first offset at or after `since_ms` (its end when none is)."""
        if not partitions or self.config.since_ms is None:
            return {}
        found = self._consumer.offsets_for_time(
            [hwt.TopicPartition(topic, p) for p in partitions], self.config.since_ms
        )
        return {f.partition: f.offset for f in found if f.offset is not None}

    def _on_assign(self, parts: list[hwt.TopicPartition]) -> Sequence[hwt.TopicPartition]:
        self._collect(wait=True)  # the start offsets must include the batch in flight
        chosen = []
        for topic in {p.topic for p in parts}:
            mine = [p.partition for p in parts if p.topic == topic]
            starts = self._tables[topic].start_offsets(mine)
            if self.config.since_ms is not None:
                starts = {
                    **starts,
                    **self._starts_since(topic, [p for p in mine if starts.get(p) is None]),
                }
            for p, start in starts.items():
                self._next[(topic, p)] = start
                chosen.append(
                    hwt.TopicPartition(topic, p, hwt.EARLIEST if start is None else start)
                )
        log_event(
            log,
            "partitions_assigned",
            partitions={f"{p.topic}[{p.partition}]": p.offset for p in chosen},
        )
        return chosen

    def _on_revoke(self, parts: list[hwt.TopicPartition]) -> None:
        self._collect(wait=True)  # committed before the partitions' next owner starts
        for p in parts:
            self._next.pop((p.topic, p.partition), None)
            if self.metrics is not None:
                self.metrics.forget(p.topic, p.partition)
        dropped = 0
        for topic, buffer in self._buffers.items():
            dropped += buffer.drop({p.partition for p in parts if p.topic == topic})
        log_event(
            log,
            "partitions_revoked",
            partitions=[f"{p.topic}[{p.partition}]" for p in parts],
            dropped=dropped,
        )


def table_sink(
    lake: Path, topic: str, group: str, dedup_window_s: float = 0.0
) -> TopicSink | CdcTableSink:
    """The writer of a topic: change topics (`cdc.<source>.<db>.<table>`) land in a history and a
    current-state table, any other topic in the table `spec_for` names (repeats dropped within
    `dedup_window_s` where its spec names a key)."""
    names = cdc_names(topic)
    if names is not None:
        return CdcTableSink(lake, topic, names, group)
    return TopicSink(lake, spec_for(topic), group, dedup_window_s)


def run_sink(broker: str, config: SinkConfig, stop: threading.Event | None = None) -> None:
    """`headwater sink`: run until `stop` is set (the CLI sets it on SIGINT/SIGTERM), then commit
    what is buffered and leave."""
    with hwt.connect(broker, client_id=f"{config.group}-sink") as transport:
        metrics = None
        if config.metrics_listen is not None:
            metrics = SinkMetrics()
            metrics.serve(*config.metrics_listen)
        sink = Sink(transport, config, metrics, stop)
        started = time.monotonic()
        sink.run()
        log_event(log, "sink_exit", seconds=round(time.monotonic() - started, 1))
