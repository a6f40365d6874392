"""Prometheus metrics of a sink: rows, rejects, repeats dropped and commits per table, offsets
and lag per partition.

Counters and gauges are updated once per flush (never per record), by the sink's own thread.
Lag, per assigned partition, is the broker's high watermark minus the next offset the table needs
(stored txn version + 1): records in the broker not yet in the lake, buffered or not yet fetched.
The sink updates it about once a second from the high watermark its consumer already knows from
fetch responses; asking the broker from the scrape thread would call the consumer from a second
thread, which can deadlock librdkafka's callbacks against the GIL.
"""

from __future__ import annotations

import contextlib
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class SinkMetrics:
    """One sink process's metrics, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.rows = Counter("headwater_sink_rows", "Rows committed", ["table"], registry=r)
        self.rejected = Counter(
            "headwater_sink_rejected", "Records written to the dead-letter table", ["table"],
            registry=r,
        )  # fmt: skip
        self.duplicates = Counter(
            "headwater_sink_duplicates", "Rows left out: their event id was in the lake already",
            ["table"], registry=r,
        )  # fmt: skip
        self.commits = Counter("headwater_sink_commits", "Delta commits", ["table"], registry=r)
        self.commit_attempts = Counter(
            "headwater_sink_commit_attempts", "Commit attempts (lost races retry)", ["table"],
            registry=r,
        )  # fmt: skip
        self.flush_seconds = Histogram(
            "headwater_sink_flush_seconds", "Convert and commit time of one batch", ["table"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=r,
        )  # fmt: skip
        self.committed_offset = Gauge(
            "headwater_sink_committed_offset", "Last offset in the table (its txn version)",
            ["topic", "partition"], registry=r,
        )  # fmt: skip
        self.lag = Gauge(
            "headwater_sink_lag", "Records in the broker not yet committed to the lake",
            ["topic", "partition"], registry=r,
        )  # fmt: skip
        self.buffered = Gauge(
            "headwater_sink_buffered_records", "Records waiting for the next commit", ["topic"],
            registry=r,
        )  # fmt: skip

    def flushed(self, topic: str, report: Any) -> None:
        """Account one `sink.topic.FlushReport`."""
        table = report.table
        if report.version is not None:
            self.commits.labels(table=table).inc()
        self.rows.labels(table=table).inc(report.rows)
        self.rejected.labels(table=table).inc(report.rejected)
        self.duplicates.labels(table=table).inc(report.repeats.dropped)
        self.commit_attempts.labels(table=table).inc(report.attempts)
        self.flush_seconds.labels(table=table).observe(report.seconds)
        for partition, (_first, last) in report.offsets.items():
            self.committed_offset.labels(topic=topic, partition=str(partition)).set(last)

    def forget(self, topic: str, partition: int) -> None:
        """A revoked partition: its lag is another sink's to report now."""
        for gauge in (self.lag, self.committed_offset):
            with contextlib.suppress(KeyError):
                gauge.remove(topic, str(partition))

    def serve(self, host: str, port: int) -> Any:
        """Serve `/metrics` on a daemon thread; returns the server (`.shutdown()` stops it)."""
        server, _thread = start_http_server(port, host, registry=self.registry)
        return server
