"""End to end on a real Apache Kafka cluster: `headwater collect` and `headwater sink` pointed at
three brokers with `--broker kafka://…`, the leader of the events partition killed with kill -9
while events flow: every event the collector acknowledged (200) or took as pending (202) lands in
the lake exactly once, and a refused one (503) lands once after its retry."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.kit.chaos import landed_events
from tests.kit.kafka import KafkaCluster
from tests.kit.ports import free_port
from tests.kit.processes import ManagedProcess, headwater_process
from tests.kit.waiting import wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

EVENTS = "clickstream.events"
AUTH = ("testkey", "")
PER_POST = 20


def batch(tag: str, n: int) -> dict[str, object]:
    events = [
        {"type": "track", "event": "e", "anonymousId": f"a-{tag}", "messageId": f"{tag}-{i}"}
        for i in range(n)
    ]
    return {"batch": events}


def start_collector(cluster: KafkaCluster, tmp: Path) -> tuple[ManagedProcess, str]:
    port = free_port()
    process = headwater_process(
        tmp, "collect", "--listen", f"127.0.0.1:{port}", "--broker", cluster.url,
        "--write-key", "testkey=web-test", "--ack-timeout-s", "3", name="collector",
    )  # fmt: skip
    process.start(ready_port=("127.0.0.1", port), ready_line="collector_started")
    return process, f"http://127.0.0.1:{port}"


def start_sink(cluster: KafkaCluster, tmp: Path, lake: Path, group: str) -> ManagedProcess:
    process = headwater_process(
        tmp, "sink", "--broker", cluster.url, "--lake", str(lake), "--group", group,
        "--max-rows", "200", "--max-age-s", "0.2", "--session-timeout-ms", "6000", name="sink",
    )  # fmt: skip
    return process.start(ready_line="sink_started")


def test_events_land_exactly_once_while_the_partition_leader_is_killed(
    kafka_cluster: KafkaCluster, tmp_path: Path
) -> None:
    tag = f"k{uuid.uuid4().hex[:8]}"
    lake = tmp_path / "lake"
    sink = start_sink(kafka_cluster, tmp_path, lake, group=f"lake-{tag}")
    collector, url = start_collector(kafka_cluster, tmp_path)
    answers: Counter[int] = Counter()
    stored: set[str] = set()  # 200 or 202: the collector promised these
    refused: list[int] = []  # 503: not stored, to be sent again
    try:
        with httpx.Client(base_url=url, auth=AUTH, timeout=60) as client:

            def send(n: int) -> None:
                answer = client.post("/v1/batch", json=batch(f"{tag}-{n}", PER_POST))
                answers[answer.status_code] += 1
                assert answer.status_code in (200, 202, 503), answer.text
                if answer.status_code == 503:
                    refused.append(n)
                else:
                    stored.update(f"{tag}-{n}-{i}" for i in range(PER_POST))

            for n in range(20):
                send(n)
            leader = kafka_cluster.leader(EVENTS)
            leader.kill()  # kill -9 of the events partition's leader, mid-stream
            for n in range(20, 60):
                send(n)
            while refused:
                send(refused.pop(0))
        assert kafka_cluster.leader(EVENTS) is not leader  # the flow went on through another
        table = lake / "clickstream_events"
        wait_until(
            lambda: set(landed_events(table, tag)) >= stored,
            120,
            f"the {len(stored)} acknowledged events in the lake",
            interval_s=0.5,
        )
        assert sink.stop() == 0, sink.log_text()
        assert collector.stop() == 0, collector.log_text()
    finally:
        sink.stop()
        collector.stop()
    landed = landed_events(table, tag)
    assert set(landed) == stored, f"answers: {dict(answers)}"
    assert [i for i, count in landed.items() if count > 1] == []
    assert len(stored) == 60 * PER_POST
    print(f"collector answers: {dict(answers)}")  # shown with -s: how the kill was felt
