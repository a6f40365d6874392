"""`headwater sink` on a real Kafka cluster while its active controller is killed with kill -9
(KRaft: the quorum leader, also a broker; ZooKeeper mode: the broker holding `/controller`).

The sink holds two pieces of state: the txn versions in its Delta table (what it resumes from)
and the group's committed offsets in Kafka (for lag). Both must survive the fail-over and a
restart of the sink: every produced record is in the table exactly once (the sink runs with no
event-id dedup window, so a record read twice would show up twice), and each partition's txn
version and committed offset are at its end offset.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec
from deltalake import DeltaTable

import headwater.transport as hwt
from tests.kit.chaos import query_table
from tests.kit.kafka import KafkaCluster
from tests.kit.processes import ManagedProcess, headwater_process
from tests.kit.waiting import wait_for, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PARTITIONS = 3


def start_sink(cluster: KafkaCluster, tmp: Path, topic: str, lake: Path) -> ManagedProcess:
    process = headwater_process(
        tmp, "sink", "--broker", cluster.url, "--lake", str(lake), "--topic", topic,
        "--group", f"lake-{topic}", "--max-rows", "100", "--max-age-s", "0.2",
        "--session-timeout-ms", "6000", "--dedup-window", "0s", name="sink",
    )  # fmt: skip
    return process.start(ready_line="sink_started")


def produce(cluster: KafkaCluster, topic: str, numbers: range) -> None:
    """acks=all, idempotent (the transport's defaults); every record acknowledged."""
    deliveries: list[hwt.Delivery] = []
    with hwt.connect(cluster.url) as transport, transport.producer() as producer:
        for n in numbers:
            value = orjson.dumps({"n": n})
            producer.produce(topic, value, key=b"%d" % n, on_delivery=deliveries.append)
        assert producer.flush(60) == 0
    assert [d.error for d in deliveries if not d.ok] == []


def landed(table: Path) -> Counter[int]:
    """How often each number is in the table (latest version; empty before the first commit)."""
    rows = query_table(table, "SELECT n FROM data") or []
    return Counter(int(str(row[0])) for row in rows)


def end_offsets(cluster: KafkaCluster, topic: str) -> dict[int, int]:
    """Each partition's end offset; asked again while a leader change is still propagating
    (FENCED_LEADER_EPOCH, LEADER_NOT_AVAILABLE from a broker behind on metadata)."""

    def ask() -> dict[int, int] | None:
        specs = {TopicPartition(topic, p): OffsetSpec.latest() for p in range(PARTITIONS)}
        answers = cluster.admin().list_offsets(specs, request_timeout=10)
        try:
            ends = {tp.partition: future.result(30).offset for tp, future in answers.items()}
        except KafkaException:
            return None
        # -1001 (no offset) comes from a broker that does not lead the partition yet: ask again
        return ends if all(offset >= 0 for offset in ends.values()) else None

    return wait_for(ask, 60, f"the end offsets of {topic}", interval_s=0.5)


def committed_offsets(cluster: KafkaCluster, topic: str) -> dict[int, int]:
    """The group's committed offsets, as Kafka's group coordinator has them."""
    request = ConsumerGroupTopicPartitions(
        f"lake-{topic}", [TopicPartition(topic, p) for p in range(PARTITIONS)]
    )
    future = cluster.admin().list_consumer_group_offsets([request], request_timeout=10)
    answer = future[f"lake-{topic}"].result(30)
    return {tp.partition: tp.offset for tp in answer.topic_partitions}


def txn_versions(table: Path, topic: str) -> dict[int, int | None]:
    """The sink's exactly-once state in the table: the last offset landed per partition."""
    delta = DeltaTable(str(table))
    return {p: delta.transaction_version(f"lake-{topic}-{topic}-{p}") for p in range(PARTITIONS)}


def test_held_offsets_and_exactly_once_state_survive_a_controller_failover(
    kafka_cluster: KafkaCluster, tmp_path: Path
) -> None:
    topic = f"failover.{uuid.uuid4().hex[:8]}"
    table = tmp_path / "lake" / topic.replace(".", "_")
    with hwt.connect(kafka_cluster.url) as transport:
        transport.admin().create_topics([hwt.TopicSpec(topic, PARTITIONS)])
    sink = start_sink(kafka_cluster, tmp_path, topic, tmp_path / "lake")
    try:
        produce(kafka_cluster, topic, range(0, 300))
        wait_until(lambda: len(landed(table)) == 300, 120, "the first 300 records landed")

        wait_until(kafka_cluster.fully_in_sync, 120, "every replica in sync before the kill")
        controller = kafka_cluster.controller()
        controller.kill()  # kill -9: in KRaft combined mode a broker goes with it
        successor = kafka_cluster.controller(deadline_s=90)
        assert successor is not controller
        produce(kafka_cluster, topic, range(300, 600))  # through the new controller's leaders
        wait_until(lambda: len(landed(table)) == 600, 120, "600 records landed after fail-over")
        assert sink.stop() == 0, sink.log_text()

        sink = start_sink(kafka_cluster, tmp_path, topic, tmp_path / "lake")  # resumes
        produce(kafka_cluster, topic, range(600, 700))
        ends = end_offsets(kafka_cluster, topic)
        # The offsets the sink holds: each partition's txn version in the table (what it resumes
        # from) and the group's committed offsets in Kafka (for lag).
        wait_until(
            lambda: txn_versions(table, topic) == {p: end - 1 for p, end in ends.items()},
            120,
            f"the table's held offsets at the end offsets {ends}",
            interval_s=0.5,
        )
        wait_until(
            lambda: committed_offsets(kafka_cluster, topic) == ends,
            120,
            f"the group's committed offsets at the end offsets {ends}",
            interval_s=0.5,
        )
        assert sink.stop() == 0, sink.log_text()
    finally:
        sink.stop()
    counts = landed(table)
    assert sorted(counts) == list(range(700))
    assert {n: c for n, c in counts.items() if c != 1} == {}  # not one twice
    assert txn_versions(table, topic) == {p: end - 1 for p, end in ends.items()}
    assert sum(ends.values()) == 700
