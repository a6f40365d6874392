"""confluent-kafka (librdkafka 2.x) against the embedded broker: codecs, idempotence, groups."""

from __future__ import annotations

import urllib.request
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

from tests.broker.clients import consume_n
from tests.kit.ports import free_port
from tests.kit.waiting import wait_until


def _produce(bootstrap: str, topic: str, values: list[bytes], **conf) -> list[tuple[int, int]]:
    """Produce values with acks=all; return (partition, offset) per value in delivery order."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            **conf,
        }
    )
    acked: list[tuple[int, int]] = []
    errors: list[str] = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked.append((msg.partition(), msg.offset()))

    for i, value in enumerate(values):
        producer.produce(topic, value, key=str(i).encode(), on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert errors == []
    return acked


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_produce_with_each_codec_and_idempotence_consumes_byte_exact(broker, codec):
    topic = f"codec-{codec}"
    values = [uuid.uuid4().bytes * (i % 7 + 1) for i in range(2000)] + [b"", b"\x00" * 1000]
    acked = _produce(broker.bootstrap, topic, values, **{"compression.type": codec})
    assert sorted(o for _, o in acked) == list(range(len(values)))
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"g-{codec}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got = consume_n(consumer, len(values))
    consumer.close()
    assert [m.value() for m in got] == values
    assert [m.key() for m in got] == [str(i).encode() for i in range(len(values))]
    assert [m.offset() for m in got] == list(range(len(values)))


def test_headers_and_null_values_round_trip(broker):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    producer.produce("hdrs", None, key=b"k", headers=[("source", b"test"), ("n", b"\x01")])
    producer.produce("hdrs", b"v", key=None)
    assert producer.flush(10) == 0
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": "h", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe(["hdrs"])
    got = consume_n(consumer, 2)
    consumer.close()
    assert got[0].value() is None and got[0].headers() == [("source", b"test"), ("n", b"\x01")]
    assert got[1].key() is None and got[1].value() == b"v"


def test_consumer_group_of_three_rebalances_when_one_leaves(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("grouped", num_partitions=6, replication_factor=1)])[
        "grouped"
    ].result(10)
    conf = {
        "bootstrap.servers": broker.bootstrap,
        "group.id": "three",
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 200,
        "enable.auto.commit": False,
    }
    assignments: dict[int, set[int]] = {}
    consumers = [Consumer(conf) for _ in range(3)]

    def tracker(i):
        def on_assign(_c, parts):
            assignments[i] = {p.partition for p in parts}

        def on_revoke(_c, _parts):
            assignments[i] = set()

        return on_assign, on_revoke

    for i, c in enumerate(consumers):
        on_assign, on_revoke = tracker(i)
        c.subscribe(["grouped"], on_assign=on_assign, on_revoke=on_revoke)

    def poll_until(active, condition):
        """Poll the active consumers (their callbacks run in poll) until `condition` holds."""

        def step():
            for i in active:
                consumers[i].poll(0.05)

        wait_until(condition, 30, f"consumers {active} to own all 6 partitions", step=step)

    def covers(active):
        owned = [assignments.get(i, set()) for i in active]
        return (
            all(owned) and set().union(*owned) == set(range(6)) and sum(len(o) for o in owned) == 6
        )

    poll_until([0, 1, 2], lambda: covers([0, 1, 2]))
    consumers[2].close()
    poll_until([0, 1], lambda: covers([0, 1]))
    for c in consumers[:2]:
        c.close()


def test_committed_offsets_resume_after_broker_restart(broker):
    values = [f"r{i}".encode() for i in range(100)]
    _produce(broker.bootstrap, "resume", values)
    conf = {
        "bootstrap.servers": broker.bootstrap,
        "group.id": "resumer",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }
    consumer = Consumer(conf)
    consumer.subscribe(["resume"])
    first = consume_n(consumer, 40)[:40]
    consumer.commit(
        offsets=[TopicPartition("resume", 0, first[-1].offset() + 1, "meta-✓")], asynchronous=False
    )
    consumer.close()
    broker.restart()
    consumer = Consumer(conf)
    committed = consumer.committed([TopicPartition("resume", 0)], timeout=10)
    assert committed[0].offset == 40 and committed[0].metadata == "meta-✓"
    consumer.subscribe(["resume"])
    rest = consume_n(consumer, 60)
    consumer.close()
    assert [m.value() for m in rest] == values[40:]


def test_admin_create_describe_partitions_delete(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    fs = admin.create_topics(
        [
            NewTopic(
                "admin-t", num_partitions=2, replication_factor=1, config={"retention.ms": "60000"}
            )
        ]
    )
    fs["admin-t"].result(10)
    bad = admin.create_topics([NewTopic("admin-r3", num_partitions=1, replication_factor=3)])
    with pytest.raises(Exception, match=r"(?i)replication"):
        bad["admin-r3"].result(10)
    configs = admin.describe_configs([ConfigResource("topic", "admin-t")])
    entries = next(iter(configs.values())).result(10)
    assert entries["retention.ms"].value == "60000"
    admin.create_partitions([NewPartitions("admin-t", 4)])["admin-t"].result(10)
    assert len(admin.list_topics(timeout=10).topics["admin-t"].partitions) == 4
    admin.delete_topics(["admin-t"])["admin-t"].result(10)
    assert "admin-t" not in admin.list_topics(timeout=10).topics


def test_metadata_advertises_the_address_as_given(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    brokers = admin.list_topics(timeout=10).brokers
    assert [(b.host, b.port) for b in brokers.values()] == [("127.0.0.1", broker.port)]


#: The consumer's fetch max wait: far beyond the wait for the record below, so only the append
#: can end a parked fetch in time (no clock is read or asserted).
LONG_POLL_MS = 40_000


def _fetches(metrics_port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read()
    for line in text.decode().splitlines():
        if line.startswith('headwater_broker_requests_total{api="fetch"}'):
            return float(line.rpartition(" ")[2])
    return 0.0


def test_fetch_long_poll_returns_when_data_arrives(broker_factory):
    metrics = free_port()
    broker = broker_factory("--metrics-listen", f"127.0.0.1:{metrics}")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for future in admin.create_topics([NewTopic("poll", 1, 1)]).values():
        future.result(30)
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "lp",
            "fetch.wait.max.ms": LONG_POLL_MS,
        }
    )
    try:
        consumer.assign([TopicPartition("poll", 0, OFFSET_BEGINNING)])
        # The partition is empty: the consumer's first fetch is parked until data or max wait.
        wait_until(lambda: _fetches(metrics) >= 1, 30, "a fetch parked on the empty partition")
        _produce(broker.bootstrap, "poll", [b"second"])
        got = consume_n(consumer, 1, deadline_s=LONG_POLL_MS / 1000 / 2)
        assert [m.value() for m in got] == [b"second"], "the append did not wake the fetch"
    finally:
        consumer.close()
