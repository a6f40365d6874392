"""`headwater sink --since`: a fresh lake starts each partition at its first record at or after a
time (ListOffsets by time), or at its end when none is that recent, on both brokers; a bad time
is refused with the format it wants."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from pathlib import Path

from deltalake import DeltaTable

import headwater.transport as hwt
from headwater.lake import txn
from tests.kit.processes import headwater_process, run_headwater
from tests.kit.waiting import wait_until

HOUR_MS = 3_600_000


def produce(bootstrap: str, topic: str, partition: int, count: int, timestamp_ms: int) -> None:
    with hwt.connect(bootstrap) as t, t.producer() as producer:
        for i in range(count):
            value = b'{"n": %d}' % i
            producer.produce(topic, value, partition=partition, timestamp_ms=timestamp_ms)
        assert producer.flush(30) == 0


def landed(table: Path, group: str, topic: str, partition: int, last: int) -> bool:
    try:
        return (
            DeltaTable(str(table)).transaction_version(txn.app_id(group, topic, partition)) == last
        )
    except Exception:  # not created yet
        return False


def test_a_fresh_lake_starts_at_the_first_record_since_the_time(
    broker_url: str, tmp_path: Path
) -> None:
    topic, group = f"since-{uuid.uuid4().hex[:8]}", f"lake-{uuid.uuid4().hex[:8]}"
    with hwt.connect(broker_url) as t:
        t.admin().create_topics([hwt.TopicSpec(topic, 2)])
    now = int(time.time() * 1000)
    produce(broker_url, topic, 0, 5, now - HOUR_MS)  # offsets 0-4: before --since
    produce(broker_url, topic, 1, 5, now - HOUR_MS)  # offsets 0-4: before --since
    produce(broker_url, topic, 0, 3, now)  # offsets 5-7: after it
    since = dt.datetime.fromtimestamp((now - HOUR_MS // 2) / 1000, dt.UTC).isoformat()
    lake = tmp_path / "lake"
    sink = headwater_process(
        tmp_path, "sink", "--broker", broker_url, "--lake", str(lake), "--topics", topic,
        "--group", group, "--since", since, "--max-age-s", "0.2",
    ).start(ready_line="partitions_assigned")  # fmt: skip
    table = lake / topic.replace("-", "_")
    try:
        wait_until(lambda: landed(table, group, topic, 0, 7), 60, "partition 0 up to offset 7")
        # Partition 1 has nothing that recent: it starts at its end, and takes what comes next.
        produce(broker_url, topic, 1, 2, now)
        wait_until(lambda: landed(table, group, topic, 1, 6), 60, "partition 1 up to offset 6")
    finally:
        assert sink.stop() == 0, sink.log_text()
    rows = DeltaTable(str(table)).to_pyarrow_table().select(["_partition", "_offset"]).to_pylist()
    assert sorted((r["_partition"], r["_offset"]) for r in rows) == [
        (0, 5), (0, 6), (0, 7), (1, 5), (1, 6),
    ]  # fmt: skip


def test_a_since_that_is_not_a_time_is_refused_with_the_format(tmp_path: Path) -> None:
    wide = {**os.environ, "COLUMNS": "200"}  # the usage error's box is not wrapped
    done = run_headwater(
        "sink", "--lake", str(tmp_path), "--since", "yesterday", timeout_s=60, env=wide
    )
    assert done.returncode == 2
    assert "'yesterday' is not an ISO 8601 time" in done.stderr
    assert "Traceback" not in done.stderr
