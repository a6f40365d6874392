"""The consumer against a real broker: batches of records only, explicit commits, group resume."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import headwater.transport as hwt
from tests.kit.consuming import consume_until

from ..support import FAST_GROUP, consume_n, wait_until

NewTopic = Callable[..., str]


def fill(transport: hwt.Transport, topic: str, n: int, partition: int | None = None) -> None:
    with transport.producer() as producer:
        for i in range(n):
            producer.produce(topic, b"%d" % i, key=b"k%d" % i, partition=partition)
        assert producer.flush(30) == 0


def test_committed_offset_is_where_the_next_group_member_resumes(
    transport: hwt.Transport, new_topic: NewTopic
) -> None:
    topic = new_topic()
    fill(transport, topic, 10)
    with transport.consumer("sink", FAST_GROUP) as first:
        first.subscribe([topic])
        head = consume_n(first, 4)
        assert [r.offset for r in head] == [0, 1, 2, 3]
        assert first.commit(head) == [hwt.TopicPartition(topic, 0, 4)]
        assert first.committed([hwt.TopicPartition(topic, 0)]) == [hwt.TopicPartition(topic, 0, 4)]
    with transport.consumer("sink", FAST_GROUP) as second:
        second.subscribe([topic])
        rest = consume_n(second, 6)
    assert [r.offset for r in rest] == [4, 5, 6, 7, 8, 9]
    assert [r.value for r in rest] == [b"4", b"5", b"6", b"7", b"8", b"9"]


def test_uncommitted_records_are_read_again(transport: hwt.Transport, new_topic: NewTopic) -> None:
    topic = new_topic()
    fill(transport, topic, 3)
    with transport.consumer("forgetful", FAST_GROUP) as first:
        first.subscribe([topic])
        assert len(consume_n(first, 3)) == 3  # auto-commit is off: nothing is committed
    with transport.consumer("forgetful", FAST_GROUP) as second:
        second.subscribe([topic])
        assert [r.offset for r in consume_n(second, 3)] == [0, 1, 2]


def test_commit_without_arguments_commits_everything_consumed(
    transport: hwt.Transport, new_topic: NewTopic
) -> None:
    topic = new_topic(partitions=2)
    fill(transport, topic, 4, partition=0)
    fill(transport, topic, 2, partition=1)
    with transport.consumer("all", FAST_GROUP) as consumer:
        consumer.subscribe([topic])
        consume_n(consumer, 6)
        assert sorted(consumer.commit(), key=lambda p: p.partition) == [
            hwt.TopicPartition(topic, 0, 4),
            hwt.TopicPartition(topic, 1, 2),
        ]
        assert consumer.commit() == []  # nothing new consumed: a no-op, not an error
        parts = [hwt.TopicPartition(topic, 0), hwt.TopicPartition(topic, 1)]
        assert [p.offset for p in consumer.committed(parts)] == [4, 2]
        assert [p.offset for p in consumer.position(parts)] == [4, 2]


def test_commit_of_explicit_offsets_and_asynchronous_commit(
    transport: hwt.Transport, new_topic: NewTopic
) -> None:
    topic = new_topic()
    fill(transport, topic, 5)
    part = hwt.TopicPartition(topic, 0)
    with transport.consumer("explicit", FAST_GROUP) as consumer:
        consumer.assign([hwt.TopicPartition(topic, 0, hwt.EARLIEST)])
        consume_n(consumer, 5)
        assert consumer.committed([part]) == [part]  # offset None: nothing committed yet
        assert consumer.commit([hwt.TopicPartition(topic, 0, 2)]) == [
            hwt.TopicPartition(topic, 0, 2)
        ]
        assert consumer.commit([hwt.TopicPartition(topic, 0, 5)], asynchronous=True) == []
        wait_until(lambda: consumer.committed([part])[0].offset == 5, 10, "async commit")
        with pytest.raises(hwt.TransportConfigError, match="offset must be >= 0"):
            consumer.commit([part])
        assert consumer.commit([]) == []


def test_assign_starts_at_the_given_offset(transport: hwt.Transport, new_topic: NewTopic) -> None:
    topic = new_topic()
    fill(transport, topic, 10)
    with transport.consumer("assigned") as consumer:
        consumer.assign([hwt.TopicPartition(topic, 0, 7)])
        assert consumer.assignment() == [hwt.TopicPartition(topic, 0)]
        assert [r.offset for r in consume_n(consumer, 3)] == [7, 8, 9]
        consumer.seek(hwt.TopicPartition(topic, 0, 2))
        assert [r.value for r in consume_n(consumer, 2)] == [b"2", b"3"]


@pytest.mark.usefixtures("tansu_high_watermark_bug")
def test_watermarks_span_the_stored_records(transport: hwt.Transport, new_topic: NewTopic) -> None:
    topic = new_topic()
    fill(transport, topic, 10)
    with transport.consumer("marks") as consumer:
        assert consumer.watermarks(hwt.TopicPartition(topic, 0)) == (0, 10)


@pytest.mark.usefixtures("tansu_high_watermark_bug")
def test_latest_skips_what_is_already_there(transport: hwt.Transport, new_topic: NewTopic) -> None:
    topic = new_topic()
    fill(transport, topic, 3)
    part = hwt.TopicPartition(topic, 0)
    with transport.consumer("tail") as consumer:
        consumer.assign([hwt.TopicPartition(topic, 0, hwt.LATEST)])
        early: list[hwt.Record] = []
        wait_until(
            lambda: not early.extend(consumer.consume(timeout_s=0.1)) and consumer.at_end(part),
            15,
            "the consumer to reach the end",
        )
        assert early == []
        fill(transport, topic, 1)
        assert [r.offset for r in consume_n(consumer, 1)] == [3]
        assert consumer.position([part]) == [hwt.TopicPartition(topic, 0, 4)]


def test_on_assign_may_choose_start_offsets(transport: hwt.Transport, new_topic: NewTopic) -> None:
    """The exactly-once sink's path: start after the offset stored with the data, not Kafka's."""
    topic = new_topic(partitions=2)
    fill(transport, topic, 5, partition=0)
    fill(transport, topic, 5, partition=1)
    assigned: list[list[hwt.TopicPartition]] = []

    def on_assign(parts: list[hwt.TopicPartition]) -> list[hwt.TopicPartition]:
        assigned.append(parts)
        return [hwt.TopicPartition(topic, 1, 3)]  # partition 0 keeps the committed offset

    with transport.consumer("exactly-once", FAST_GROUP) as consumer:
        consumer.subscribe([topic], on_assign=on_assign)
        records = consume_n(consumer, 7)
    assert sorted(p.partition for p in assigned[0]) == [0, 1]
    assert all(p.offset is None for p in assigned[0])
    got = sorted((r.partition, r.offset) for r in records)
    assert got == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 3), (1, 4)]


def test_on_revoke_hears_of_partitions_given_up(
    transport: hwt.Transport, new_topic: NewTopic
) -> None:
    topic = new_topic()
    fill(transport, topic, 1)
    revoked: list[list[hwt.TopicPartition]] = []
    with transport.consumer("revokes", FAST_GROUP) as consumer:
        consumer.subscribe([topic], on_revoke=revoked.append)
        consume_n(consumer, 1)
        consumer.unsubscribe()
        wait_until(lambda: consumer.consume(timeout_s=0.1) == [] and bool(revoked), 10, "revoke")
    assert revoked[0] == [hwt.TopicPartition(topic, 0)]


def test_partition_end_is_a_flag_never_a_record(
    transport: hwt.Transport, new_topic: NewTopic
) -> None:
    topic = new_topic(partitions=2)
    fill(transport, topic, 2, partition=0)
    parts = [hwt.TopicPartition(topic, 0), hwt.TopicPartition(topic, 1)]
    with transport.consumer("eof") as consumer:
        consumer.assign([hwt.TopicPartition(topic, p, hwt.EARLIEST) for p in (0, 1)])
        assert not any(consumer.at_end(p) for p in parts)
        seen: list[hwt.Record] = []
        wait_until(
            lambda: (
                not seen.extend(consumer.consume(timeout_s=0.1))
                and all(consumer.at_end(p) for p in parts)
            ),
            15,
            "both partitions drained",
        )
        assert [(r.partition, r.offset, r.value) for r in seen] == [(0, 0, b"0"), (0, 1, b"1")]
        fill(transport, topic, 1, partition=1)
        assert [(r.partition, r.offset) for r in consume_n(consumer, 1)] == [(1, 0)]
        wait_until(
            lambda: consumer.consume(timeout_s=0.1) == [] and consumer.at_end(parts[1]),
            15,
            "partition 1 drained again",
        )


def test_consume_returns_at_most_max_records(transport: hwt.Transport, new_topic: NewTopic) -> None:
    topic = new_topic()
    fill(transport, topic, 50)
    with transport.consumer("small-batches") as consumer:
        consumer.assign([hwt.TopicPartition(topic, 0, hwt.EARLIEST)])
        batches: list[list[hwt.Record]] = []
        wait_until(
            lambda: (
                batches.append(consumer.consume(max_records=7, timeout_s=0.2)) is None
                and sum(map(len, batches)) == 50
            ),
            20,
            "50 records",
        )
    assert max(map(len, batches)) <= 7
    assert [r.offset for b in batches for r in b] == list(range(50))


def test_pause_stops_fetching_until_resume(transport: hwt.Transport, new_topic: NewTopic) -> None:
    topic = new_topic()
    fill(transport, topic, 3)
    part = hwt.TopicPartition(topic, 0)
    with transport.consumer("paused") as consumer:
        consumer.assign([hwt.TopicPartition(topic, 0, hwt.EARLIEST)])
        consumer.pause([part])
        assert consumer.consume(timeout_s=1.0) == []
        consumer.resume([part])
        assert len(consume_n(consumer, 3)) == 3


def test_closed_consumer_refuses_work(transport: hwt.Transport) -> None:
    consumer = transport.consumer("closed")
    consumer.close()
    consumer.close()
    with pytest.raises(hwt.TransportError, match="closed"):
        consumer.consume(timeout_s=0.1)
    with pytest.raises(hwt.TransportError, match="closed"):
        consumer.subscribe(["x"])


def test_subscribe_wants_a_list(transport: hwt.Transport) -> None:
    with transport.consumer("g") as consumer, pytest.raises(hwt.TransportConfigError):
        consumer.subscribe("events")  # type: ignore[arg-type]


def test_unreachable_broker_gives_empty_batches_not_a_hang(dead_bootstrap: str) -> None:
    """Each call returns with its documented answer though no broker ever answers (a call that
    hung would meet pytest-timeout instead)."""
    with hwt.connect(dead_bootstrap).consumer("nobody", FAST_GROUP) as consumer:
        consumer.subscribe(["events"])
        assert consumer.consume(timeout_s=0.5) == []
        with pytest.raises(hwt.BrokerUnavailableError, match="watermarks") as caught:
            consumer.watermarks(hwt.TopicPartition("events", 0), timeout_s=0.5)
        assert caught.value.retriable


def test_consume_columns_returns_the_records_as_parallel_lists(
    transport: hwt.Transport, new_topic: NewTopic
) -> None:
    topic = new_topic(partitions=2)
    fill(transport, topic, 3, partition=0)
    fill(transport, topic, 2, partition=1)
    Row = tuple[int, int, bytes | None, bytes | None]

    def rows(_: list[Row]) -> list[Row]:
        cols = consumer.consume_columns(100, 0.2)
        assert len(cols.topic) == len(cols.value) == len(cols.timestamp_ms) == len(cols)
        assert set(cols.topic) <= {topic}
        assert all(ts is not None and ts > 0 for ts in cols.timestamp_ms)
        return list(zip(cols.partition, cols.offset, cols.key, cols.value, strict=True))

    with transport.consumer("columns", FAST_GROUP) as consumer:
        consumer.subscribe([topic])
        seen = consume_until(rows, lambda got: len(got) >= 5, 30, "5 records as columns")
        wait_until(
            lambda: (
                consumer.consume_columns(10, 0.1) is not None
                and consumer.at_end(hwt.TopicPartition(topic, 0))
                and consumer.at_end(hwt.TopicPartition(topic, 1))
            ),
            30,
            "both partitions at their end",
        )
    assert sorted(seen) == [
        (0, 0, b"k0", b"0"), (0, 1, b"k1", b"1"), (0, 2, b"k2", b"2"),
        (1, 0, b"k0", b"0"), (1, 1, b"k1", b"1"),
    ]  # fmt: skip
