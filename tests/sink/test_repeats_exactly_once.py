"""A repeated event lands once through real processes: two `headwater sink`s sharing partitions
while one is killed -9 and replaced (a rebalance), and a Segment client's retry after a lost
answer through `headwater collect`, with the sink killed -9 while it lands the retry."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import httpx
import pytest
from deltalake import DeltaTable

import headwater.transport as hwt
from headwater.lake import txn

from ..conftest import BrokerProcess
from ..lake.events import click_event, click_value
from ..sources.clickstream.conftest import start_collector
from ..transport.support import wait_until
from .test_exactly_once import PARTITIONS, TOPIC, SinkProcess, table_version

AUTH = ("testkey", "")


def produce(bootstrap: str, records: list[tuple[int, bytes]]) -> None:
    """(partition, value) pairs, in this order."""
    with hwt.connect(bootstrap) as t, t.producer() as producer:
        for partition, value in records:
            producer.produce(TOPIC, value, partition=partition)
        assert producer.flush(60) == 0


def end_offsets(bootstrap: str) -> dict[int, int]:
    with hwt.connect(bootstrap) as t, t.consumer("probe") as probe:
        return {p: probe.watermarks(hwt.TopicPartition(TOPIC, p))[1] for p in range(PARTITIONS)}


def all_landed(table: Path, ends: dict[int, int]) -> bool:
    """Whether each partition's txn version reached its end offset (empty ones need none)."""
    try:
        dt = DeltaTable(str(table))
    except Exception:  # not created yet
        return False
    app = [txn.app_id("lake-test", TOPIC, p) for p in range(PARTITIONS)]
    return all(dt.transaction_version(app[p]) == e - 1 for p, e in ends.items() if e)


def landed_ids(table: Path) -> tuple[int, set[str]]:
    """Rows in the table and their distinct event ids."""
    data = DeltaTable(str(table)).to_pyarrow_dataset()  # noqa: F841  (read by DuckDB below)
    ids = [r[0] for r in duckdb.sql("SELECT event_id FROM data").fetchall()]
    return len(ids), set(ids)


def create_topic(bootstrap: str) -> None:
    with hwt.connect(bootstrap) as t:
        t.admin().create_topics([hwt.TopicSpec(TOPIC, PARTITIONS)])


@pytest.mark.slow
def test_sinks_sharing_partitions_through_rebalances_write_each_event_id_once(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    """Each event's retry goes to another partition than its first copy (another sink owns it,
    and commits concurrently): only the table can tell."""
    rng = random.Random(20261207)
    lake = tmp_path / "lake"
    table = lake / "clickstream_events"
    create_topic(broker.bootstrap)
    sinks = [SinkProcess(broker.bootstrap, lake, tmp_path, n) for n in range(2)]
    started, sent = len(sinks), 0
    try:
        for _round in range(3):
            before = table_version(table)
            first = range(sent, sent + 300)
            # The round's events, then a retry of half of them and of half the last round's.
            retried = [i for i in range(max(0, sent - 300), sent + 300) if rng.random() < 0.5]
            produce(broker.bootstrap, [(i % PARTITIONS, click_value(i)) for i in first])
            produce(broker.bootstrap, [((i + 1 + rng.randrange(PARTITIONS - 1)) % PARTITIONS,
                                        click_value(i, received_ts=click_event(i)["received_ts"]
                                                    + 20_000)) for i in retried])  # fmt: skip
            sent += 300
            wait_until(lambda b=before: table_version(table) > b, 90, f"a commit after {before}")
            sinks.pop(rng.randrange(len(sinks))).kill()  # mid-batch or between commits
            sinks.append(SinkProcess(broker.bootstrap, lake, tmp_path, started))
            started += 1
            new = sinks[-1]  # in the group before the next round (and before SIGTERM)
            wait_until(lambda s=new: "sink_started" in s.log(), 60, "the new sink started")
        ends = end_offsets(broker.bootstrap)
        wait_until(lambda: all_landed(table, ends), 120, "every partition's last offset landed")
        for sink in sinks:
            assert sink.stop() == 0, sink.log()
    finally:
        for sink in sinks:
            if sink.proc.poll() is None:
                sink.kill()
    rows, ids = landed_ids(table)
    assert ids == {f"e-{i}" for i in range(sent)}
    assert rows == sent  # every event, each once


def segment_batch(n: int) -> dict:
    """A Segment `/v1/batch` of `n` track events, each with its messageId."""
    return {
        "batch": [
            {
                "type": "track",
                "event": "video_play",
                "anonymousId": f"anon-{i % 7}",
                "messageId": f"retry-{i}",
                "timestamp": "2026-11-25T10:00:00.000Z",
                "properties": {"n": i},
                "context": {"sessionId": f"sess-{i % 5}"},
            }
            for i in range(n)
        ],
        "sentAt": "2026-11-25T10:00:01.000Z",
    }


@pytest.mark.slow
def test_a_client_retry_lands_once_though_the_sink_was_killed_while_landing_it(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    """The client's first POST was stored but its answer lost; it sends the very same batch
    again, which reaches another collector (behind one address), so the collector cannot know:
    both copies are in the broker. The sink is killed -9 as the retry arrives, and restarted."""
    lake = tmp_path / "lake"
    table = lake / "clickstream_events"
    create_topic(broker.bootstrap)
    collectors = [start_collector(broker, tmp_path) for _ in range(2)]
    sinks = [SinkProcess(broker.bootstrap, lake, tmp_path, 0)]
    batch = segment_batch(50)
    try:
        first = httpx.post(f"{collectors[0].url}/v1/batch", json=batch, auth=AUTH, timeout=30)
        assert first.status_code == 200, first.text
        wait_until(lambda: table_version(table) >= 0, 90, "the first copies in the lake")
        again = httpx.post(f"{collectors[1].url}/v1/batch", json=batch, auth=AUTH, timeout=30)
        assert again.status_code == 200, again.text
        sinks[0].kill()  # the retry is being consumed, buffered or committed
        sinks.append(SinkProcess(broker.bootstrap, lake, tmp_path, 1))
        ends = end_offsets(broker.bootstrap)
        assert sum(ends.values()) == 100  # both copies are in the broker
        wait_until(lambda: all_landed(table, ends), 120, "both copies consumed by the sink")
        assert sinks[1].stop() == 0, sinks[1].log()
    finally:
        for sink in sinks:
            if sink.proc.poll() is None:
                sink.kill()
        for collector in collectors:
            collector.stop()
    rows, ids = landed_ids(table)
    assert ids == {f"retry-{i}" for i in range(50)}
    assert rows == 50
