"""The producer against a real broker: delivery reports, byte-exact records, bounded failure."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

import headwater.transport as hwt

from ..support import consume_n, wait_until

NewTopic = Callable[..., str]


def read_back(transport: hwt.Transport, topic: str, n: int, partitions: int = 1) -> list:
    """The first `n` records of `topic`, read by partition assignment (no group needed)."""
    with transport.consumer("reader") as consumer:
        consumer.assign([hwt.TopicPartition(topic, p, hwt.EARLIEST) for p in range(partitions)])
        return consume_n(consumer, n)


def test_delivery_reports_carry_partition_and_consecutive_offsets(
    transport: hwt.Transport, new_topic: NewTopic
) -> None:
    topic = new_topic()
    deliveries: list[hwt.Delivery] = []
    with transport.producer() as producer:
        for i in range(10):
            producer.produce(topic, b"v%d" % i, on_delivery=deliveries.append)
        assert producer.flush(30) == 0
    assert [(d.topic, d.partition, d.offset, d.error) for d in deliveries] == [
        (topic, 0, i, None) for i in range(10)
    ]
    assert all(d.ok for d in deliveries)


def test_round_trip_is_byte_exact(transport: hwt.Transport, new_topic: NewTopic) -> None:
    topic = new_topic()
    sent = [
        (b"k1", b'{"event": "page"}', (("source", b"collector"), ("schema", b"v1"))),
        (None, b"\x00\xff\x00binary\r\n", ()),
        (b"deleted-row", None, (("op", b"d"),)),  # a tombstone: null value, key kept
        (b"", b"", (("empty", b""), ("null", None))),  # empty is not null, in keys and headers
        (b"k5", bytes(range(256)) * 400, (("dup", b"1"), ("dup", b"2"))),  # 100 KiB, repeats
    ]
    with transport.producer() as producer:
        for key, value, headers in sent:
            producer.produce(topic, value, key=key, headers=list(headers))
        assert producer.flush(30) == 0
    records = read_back(transport, topic, len(sent))
    got = [(r.key, r.value, r.headers) for r in records]
    assert got == sent
    assert [r.offset for r in records] == list(range(len(sent)))
    assert all(r.timestamp_ms is not None and r.timestamp_ms > 0 for r in records)
    assert records[4].header("dup") == b"2"
    assert records[0].header("missing") is None


def test_headers_may_be_a_mapping_of_str_or_bytes(
    transport: hwt.Transport, new_topic: NewTopic
) -> None:
    topic = new_topic()
    with transport.producer() as producer:
        producer.produce(topic, b"v", headers={"source": "collector", "ingested_at": b"17"})
        producer.produce(topic, b"w", timestamp_ms=1_700_000_000_123)
        assert producer.flush(30) == 0
    first, second = read_back(transport, topic, 2)
    assert first.headers == (("source", b"collector"), ("ingested_at", b"17"))
    assert second.timestamp_ms == 1_700_000_000_123


def test_keyed_records_keep_their_partition(transport: hwt.Transport, new_topic: NewTopic) -> None:
    topic = new_topic(partitions=3)
    partitions_by_key: dict[bytes, set[int]] = {}
    pinned: list[hwt.Delivery] = []

    def remember(key: bytes) -> hwt.OnDelivery:
        return lambda d: partitions_by_key.setdefault(key, set()).add(d.partition)

    with transport.producer() as producer:
        for i in range(30):
            key = b"user-%d" % (i % 3)
            producer.produce(topic, b"%d" % i, key=key, on_delivery=remember(key))
        producer.produce(topic, b"pinned", partition=2, on_delivery=pinned.append)
        assert producer.flush(30) == 0
    assert len(partitions_by_key) == 3
    assert all(len(parts) == 1 for parts in partitions_by_key.values())
    assert pinned[0].partition == 2


def test_produce_batch_delivers_every_record(transport: hwt.Transport, new_topic: NewTopic) -> None:
    topic = new_topic(partitions=3)
    batch = [
        hwt.ProducerRecord(topic, b"value-%d" % i, key=b"%d" % (i % 7), headers={"i": b"%d" % i})
        for i in range(1000)
    ]
    deliveries: list[hwt.Delivery] = []
    with transport.producer() as producer:
        assert producer.produce_batch(batch, on_delivery=deliveries.append) == 1000
        assert producer.flush(30) == 0
    assert len(deliveries) == 1000 and all(d.ok for d in deliveries)
    for p in range(3):
        offsets = sorted(d.offset for d in deliveries if d.partition == p)
        assert offsets == list(range(len(offsets)))
    records = read_back(transport, topic, 1000, partitions=3)
    assert sorted(r.value for r in records) == sorted(r.value for r in batch)


def test_produce_group_reports_once_after_every_record_is_stored(
    transport: hwt.Transport, new_topic: NewTopic
) -> None:
    topic = new_topic(partitions=3)
    shared_headers = [("source", b"web"), ("schema", b"v1")]
    group = [(topic, b"value-%d" % i, b"%d" % (i % 5), shared_headers) for i in range(300)]
    outcomes: list[hwt.DeliveryError | None] = []
    with transport.producer() as producer:
        producer.produce_group(group, outcomes.append)
        producer.produce_group([(topic, b"mapping", None, None)], outcomes.append)
        producer.produce_group([], outcomes.append)  # nothing to wait for: reported at once
        assert outcomes == [None]
        assert producer.flush(30) == 0
    assert outcomes == [None, None, None]
    records = read_back(transport, topic, 301, partitions=3)
    assert sorted(r.value for r in records) == sorted([r[1] for r in group] + [b"mapping"])
    assert {r.headers for r in records if r.value != b"mapping"} == {tuple(shared_headers)}
    assert [r.headers for r in records if r.value == b"mapping"] == [()]


def test_a_full_local_queue_waits_instead_of_dropping(
    transport: hwt.Transport, new_topic: NewTopic
) -> None:
    topic = new_topic()
    deliveries: list[hwt.Delivery] = []
    with transport.producer(hwt.ProducerOptions(queue_max_messages=5)) as producer:
        for i in range(500):
            producer.produce(topic, b"%d" % i, on_delivery=deliveries.append)
        assert producer.flush(30) == 0
    assert [d.offset for d in deliveries] == list(range(500))


def test_oversized_record_is_refused_at_once(transport: hwt.Transport, new_topic: NewTopic) -> None:
    topic = new_topic()
    options = hwt.ProducerOptions(extra={"message.max.bytes": 10_000})
    with transport.producer(options) as producer, pytest.raises(hwt.DeliveryError) as caught:
        producer.produce(topic, b"x" * 20_000)
    assert caught.value.name == "MSG_SIZE_TOO_LARGE"
    assert not caught.value.retriable


def test_closed_producer_refuses_work(transport: hwt.Transport, new_topic: NewTopic) -> None:
    producer = transport.producer()
    assert producer.close() == 0
    assert producer.close() == 0
    with pytest.raises(hwt.TransportError, match="closed"):
        producer.produce(new_topic(), b"v")


# -- no broker at all: every failure arrives within a bound, none hangs -----------------------


def test_unreachable_broker_fails_each_record_at_its_message_timeout(
    dead_bootstrap: str,
) -> None:
    """Each record's report is the message-timeout error (`_MSG_TIMED_OUT`): the producer gave
    up because the timeout passed, not because of anything else."""
    transport = hwt.connect(dead_bootstrap)
    deliveries: list[hwt.Delivery] = []
    with transport.producer(hwt.ProducerOptions(message_timeout_ms=1000)) as producer:
        producer.produce("events", b"lost?", on_delivery=deliveries.append)
        producer.produce("events", b"lost!", on_delivery=deliveries.append)
        wait_until(lambda: producer.poll(0.1) >= 0 and len(deliveries) == 2, 30, "2 failures")
    for d in deliveries:
        assert d.offset == -1 and not d.ok
        assert isinstance(d.error, hwt.DeliveryError)
        assert (d.error.name, d.error.retriable) == ("_MSG_TIMED_OUT", True)
        assert f"no broker reachable at {dead_bootstrap}" in str(d.error)


def test_produce_group_to_unreachable_broker_reports_one_error(dead_bootstrap: str) -> None:
    outcomes: list[hwt.DeliveryError | None] = []
    options = hwt.ProducerOptions(message_timeout_ms=500)
    with hwt.connect(dead_bootstrap).producer(options) as producer:
        producer.produce_group(
            [("events", b"%d" % i, None, None) for i in range(5)], outcomes.append
        )
        assert producer.flush(15) == 0
    assert len(outcomes) == 1
    error = outcomes[0]
    assert isinstance(error, hwt.DeliveryError) and error.retriable
    assert f"no broker reachable at {dead_bootstrap}" in str(error)


def test_unreachable_broker_without_callbacks_counts_failures(dead_bootstrap: str) -> None:
    options = hwt.ProducerOptions(message_timeout_ms=500)
    with hwt.connect(dead_bootstrap).producer(options) as producer:
        producer.produce("events", b"v")
        assert producer.flush(15) == 0
        assert producer.failed == 1


def test_full_queue_to_unreachable_broker_raises_after_enqueue_timeout(
    dead_bootstrap: str,
) -> None:
    options = hwt.ProducerOptions(queue_max_messages=1, enqueue_timeout_s=0.3)
    producer = hwt.connect(dead_bootstrap).producer(options)
    producer.produce("events", b"first")
    started = time.monotonic()
    with pytest.raises(hwt.QueueFullError, match=r"still full after 0\.3s") as caught:
        producer.produce("events", b"second")
    # Only a lower bound, and it cannot flake: the producer gives up once its own monotonic
    # deadline has passed, so a slow machine lengthens this wait, never shortens it. (How long
    # past the deadline it takes is the machine's business: no upper bound.)
    assert time.monotonic() - started >= 0.3
    assert caught.value.retriable
    assert producer.close(timeout_s=0.1) == 1


def test_full_queue_to_unreachable_broker_waits_for_room_inside_produce(
    dead_bootstrap: str,
) -> None:
    """The wait is seen by its effect, not a clock: within its enqueue timeout, produce serves
    delivery reports until a slot frees, here by the first record's failure."""
    options = hwt.ProducerOptions(
        queue_max_messages=1, enqueue_timeout_s=60, message_timeout_ms=500
    )
    deliveries: list[hwt.Delivery] = []
    with hwt.connect(dead_bootstrap).producer(options) as producer:
        producer.produce("events", b"first", on_delivery=deliveries.append)
        producer.produce("events", b"second", on_delivery=deliveries.append)
        assert [d.error.name for d in deliveries if d.error] == ["_MSG_TIMED_OUT"]
        # the second record took the freed slot: it is queued, and it too times out. (Not
        # `in_flight == 1`: librdkafka counts its pending error events there as well.)
        assert producer.flush(30) == 0
    assert [d.error.name for d in deliveries if d.error] == ["_MSG_TIMED_OUT"] * 2


def test_check_reports_an_unreachable_broker(dead_bootstrap: str) -> None:
    """The check returns the error naming the address (a check that ignored its timeout would
    hang until pytest-timeout ends the test)."""
    with pytest.raises(hwt.BrokerUnavailableError, match=f"at {dead_bootstrap}") as caught:
        hwt.connect(dead_bootstrap).check(timeout_s=1.0)
    assert caught.value.retriable


def test_produce_group_names_every_failed_record_once_all_have_an_outcome(
    dead_bootstrap: str,
) -> None:
    outcomes: list[hwt.DeliveryError | None] = []
    group = [("events", b"%d" % i, b"k", [("h", b"v")]) for i in range(5)]
    with hwt.connect(dead_bootstrap).producer(hwt.ProducerOptions(message_timeout_ms=500)) as p:
        p.produce_group(group, outcomes.append)
        assert p.flush(15) == 0
    (error,) = outcomes
    assert isinstance(error, hwt.GroupDeliveryError) and error.retriable
    assert error.stored == 0
    assert sorted(record[1] for record, _ in error.failures) == [r[1] for r in group]
    assert {e.name for _, e in error.failures} == {"_MSG_TIMED_OUT"}


def test_a_group_that_does_not_fit_the_queue_is_refused_whole_at_once(
    dead_bootstrap: str,
) -> None:
    options = hwt.ProducerOptions(queue_max_messages=3, enqueue_timeout_s=0)
    producer = hwt.connect(dead_bootstrap).producer(options)
    outcomes: list[hwt.DeliveryError | None] = []
    producer.produce_group([("events", b"a", None, None)] * 2, outcomes.append)
    with pytest.raises(hwt.QueueFullError) as caught:
        producer.produce_group([("events", b"b", None, None)] * 2, outcomes.append)
    assert caught.value.retriable
    assert producer.close(timeout_s=0.1) == 2  # only the first group was ever queued
    reported = [
        r[1] for o in outcomes if isinstance(o, hwt.GroupDeliveryError) for r, _ in o.failures
    ]
    assert b"b" not in reported  # the refused group is never reported as well
