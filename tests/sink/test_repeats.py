"""A clickstream event sent twice (a client's retry) lands once: repeats in one batch, in later
batches, after the sink restarted; they are counted and logged, not silently dropped (real
broker, the sink in this process, the table read back)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from deltalake import DeltaTable

import headwater.transport as hwt
from headwater.lake import txn
from headwater.sink.metrics import SinkMetrics
from headwater.sink.runner import Sink, SinkConfig

from ..conftest import BrokerProcess
from ..lake.events import click_event, click_value
from ..transport.support import FAST_GROUP, wait_until

TOPIC = "clickstream.events"
GROUP = "repeats"
RETRY_DELAY_MS = 30_000  # the copy reaches the collector 30 s after the first one


def original(i: int) -> bytes:
    return click_value(i, event_id=f"ev-{i}")


def retry(i: int) -> bytes:
    """What the collector writes for a client's retry of event `i`: same id, later arrival."""
    return click_value(
        i, event_id=f"ev-{i}", received_ts=click_event(i)["received_ts"] + RETRY_DELAY_MS
    )


def produce(bootstrap: str, records: list[tuple[int, bytes]]) -> None:
    """(partition, value) pairs, in this order."""
    with hwt.connect(bootstrap) as t, t.producer() as producer:
        for partition, value in records:
            producer.produce(TOPIC, value, partition=partition)
        assert producer.flush(30) == 0


def ends(bootstrap: str) -> dict[int, int]:
    with hwt.connect(bootstrap) as t, t.consumer("probe") as probe:
        return {p: probe.watermarks(hwt.TopicPartition(TOPIC, p))[1] for p in (0, 1)}


def all_landed(table: Path, end: dict[int, int]) -> bool:
    try:
        dt = DeltaTable(str(table))
    except Exception:  # not created yet
        return False
    return all(
        dt.transaction_version(txn.app_id(GROUP, TOPIC, p)) == e - 1 for p, e in end.items() if e
    )


@contextmanager
def running_sink(
    bootstrap: str, lake: Path, metrics: SinkMetrics | None = None, **options: object
) -> Iterator[Sink]:
    config = SinkConfig(lake=lake, group=GROUP, max_age_s=0.2, consumer=FAST_GROUP,
                        **options)  # type: ignore[arg-type]  # fmt: skip
    with hwt.connect(bootstrap) as transport:
        sink = Sink(transport, config, metrics)
        thread = threading.Thread(target=sink.run)
        thread.start()
        try:
            yield sink
        finally:
            sink.stop()
            thread.join(60)
    assert not thread.is_alive()


def land(bootstrap: str, table: Path) -> None:
    end = ends(bootstrap)
    wait_until(lambda: all_landed(table, end), 60, f"offsets {end} in the table")


def event_ids(table: Path) -> list[str]:
    data = DeltaTable(str(table)).to_pyarrow_table(columns=["event_id"])  # noqa: F841 (DuckDB)
    return [r[0] for r in duckdb.sql("SELECT event_id FROM data ORDER BY 1").fetchall()]


def expected(n: int) -> list[str]:
    return sorted(f"ev-{i}" for i in range(n))


@contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    """The sink's log records (its logger may not propagate: `logs.setup_logging`)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("headwater.sink")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def create_topic(bootstrap: str) -> None:
    with hwt.connect(bootstrap) as t:
        t.admin().create_topics([hwt.TopicSpec(TOPIC, 2)])


def test_repeats_in_one_batch_are_written_once_counted_and_logged(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    create_topic(broker.bootstrap)
    # Each retry in the other partition from its first copy: the key need not match.
    produce(broker.bootstrap, [(i % 2, original(i)) for i in range(50)]
            + [((i + 1) % 2, retry(i)) for i in range(50)])  # fmt: skip
    table = tmp_path / "clickstream_events"
    metrics = SinkMetrics()
    with captured_logs() as records, running_sink(broker.bootstrap, tmp_path, metrics,
                                                  max_rows=1000):  # fmt: skip
        land(broker.bootstrap, table)
    assert event_ids(table) == expected(50)
    counted = metrics.registry.get_sample_value(
        "headwater_sink_duplicates_total", {"table": "clickstream_events"}
    )
    assert counted == 50
    logged = [r.fields for r in records if getattr(r, "event", None) == "duplicates_dropped"]
    assert sum(f["rows"] for f in logged) == 50, logged
    assert all(f["table"] == "clickstream_events" and f["sample"] for f in logged)


def test_repeats_in_later_batches_are_written_once(broker: BrokerProcess, tmp_path: Path) -> None:
    create_topic(broker.bootstrap)
    table = tmp_path / "clickstream_events"
    with running_sink(broker.bootstrap, tmp_path, max_rows=1000):
        produce(broker.bootstrap, [(i % 2, original(i)) for i in range(50)])
        land(broker.bootstrap, table)
        produce(broker.bootstrap, [((i + 1) % 2, retry(i)) for i in range(50)]
                + [(i % 2, original(i)) for i in range(50, 60)])  # fmt: skip
        land(broker.bootstrap, table)
    assert event_ids(table) == expected(60)


def test_repeats_after_a_restart_of_the_sink_are_written_once(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    """The restarted sink remembers nothing: it reads the window's ids back from the table."""
    create_topic(broker.bootstrap)
    table = tmp_path / "clickstream_events"
    produce(broker.bootstrap, [(i % 2, original(i)) for i in range(50)])
    with running_sink(broker.bootstrap, tmp_path, max_rows=1000):
        land(broker.bootstrap, table)
    produce(broker.bootstrap, [((i + 1) % 2, retry(i)) for i in range(50)])
    metrics = SinkMetrics()
    with running_sink(broker.bootstrap, tmp_path, metrics, max_rows=1000):
        land(broker.bootstrap, table)
    assert event_ids(table) == expected(50)
    counted = metrics.registry.get_sample_value(
        "headwater_sink_duplicates_total", {"table": "clickstream_events"}
    )
    assert counted == 50
