"""Where the embedded broker once answered differently from Apache Kafka: each case runs on both,
and Kafka's answer is the one asserted (`kafka` cases use the session's 3-node clusters, KRaft
and ZooKeeper).

Found by asking both the same questions through confluent-kafka: commits to topics or partitions
that do not exist, the default largest record, the configs DescribeConfigs reports, and an
`acks=all` write to a topic whose `min.insync.replicas` exceeds its replicas.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

# Where confluent-kafka defines them (as src/headwater/transport/kafka/admin.py imports them).
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.admin._resource import ResourceType

from tests.kit.kafka_pool import KAFKA_PARAMS
from tests.kit.waiting import wait_until

#: Kafka's default max.message.bytes (and message.max.bytes): 1 MiB plus a batch's 12-byte
#: log overhead.
KAFKA_MAX_MESSAGE_BYTES = "1048588"


@pytest.fixture(params=["embedded", *KAFKA_PARAMS])
def bootstrap(request: pytest.FixtureRequest) -> str:
    if request.param == "embedded":
        return str(request.getfixturevalue("broker").bootstrap)
    return str(request.getfixturevalue("kafka_cluster_of")(request.param).bootstrap)


@pytest.fixture
def new_topic(bootstrap: str) -> Callable[[], str]:
    """A new one-partition topic (the broker's default replication), visible when returned."""
    admin = AdminClient({"bootstrap.servers": bootstrap})

    def make() -> str:
        name = f"parity-{uuid.uuid4().hex[:10]}"
        admin.create_topics([NewTopic(name, 1)])[name].result(30)
        wait_until(lambda: name in admin.list_topics(timeout=5).topics, 30, f"{name} visible")
        return name

    return make


def configs(bootstrap: str, resource: ConfigResource) -> dict[str, str | None]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    entries = admin.describe_configs([resource])[resource].result(30)
    return {name: entry.value for name, entry in entries.items()}


def test_commits_to_missing_topics_or_partitions_fail_and_are_not_stored(
    bootstrap: str, new_topic: Callable[[], str]
) -> None:
    topic = new_topic()
    missing = f"missing-{uuid.uuid4().hex[:10]}"
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex[:8]}"})
    try:
        wanted = [
            TopicPartition(topic, 0, 1),
            TopicPartition(topic, 5, 1),
            TopicPartition(missing, 0, 3),
        ]
        with pytest.raises(KafkaException) as caught:
            consumer.commit(offsets=wanted, asynchronous=False)
        assert caught.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
        committed = consumer.committed(
            [TopicPartition(topic, 0), TopicPartition(topic, 5), TopicPartition(missing, 0)], 10
        )
        # The partition that exists is committed all the same; the others are not stored.
        assert [p.offset for p in committed] == [1, -1001, -1001]
    finally:
        consumer.close()


def test_a_record_over_one_mebibyte_is_refused_by_default(
    bootstrap: str, new_topic: Callable[[], str]
) -> None:
    topic = new_topic()
    resource = ConfigResource(ResourceType.TOPIC, topic)
    assert configs(bootstrap, resource)["max.message.bytes"] == KAFKA_MAX_MESSAGE_BYTES
    errors: list[KafkaError | None] = []
    # The client's own limit raised, so that the broker is the one that decides.
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 4_000_000})
    producer.produce(topic, b"x" * 1_100_000, on_delivery=lambda err, _msg: errors.append(err))
    producer.produce(topic, b"x" * 1_000_000, on_delivery=lambda err, _msg: errors.append(err))
    assert producer.flush(30) == 0
    assert [None if e is None else e.code() for e in errors] == [
        KafkaError.MSG_SIZE_TOO_LARGE,
        None,
    ]


def test_acks_all_is_stored_when_min_insync_replicas_exceeds_the_replicas(bootstrap: str) -> None:
    """Kafka caps a topic's min ISR at its replication factor (both 4.4 and 3.9 store the
    record), so the single-node broker, one replica, stores it too: refusing it with
    NOT_ENOUGH_REPLICAS would be a difference."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    brokers = len(admin.list_topics(timeout=10).brokers)  # no topic has more replicas than that
    topic = f"parity-{uuid.uuid4().hex[:10]}"
    config = {"min.insync.replicas": str(brokers + 1)}
    admin.create_topics([NewTopic(topic, 1, config=config)])[topic].result(30)
    wait_until(lambda: topic in admin.list_topics(timeout=5).topics, 30, f"{topic} visible")
    errors: list[KafkaError | None] = []
    # No retries: the broker's own answer reaches the callback.
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "retries": 0,
                         "message.timeout.ms": 10_000})  # fmt: skip
    producer.produce(topic, b"x", on_delivery=lambda err, _msg: errors.append(err))
    assert producer.flush(30) == 0
    assert errors == [None]


def test_topic_configs_include_the_durability_settings(
    bootstrap: str, new_topic: Callable[[], str]
) -> None:
    got = configs(bootstrap, ConfigResource(ResourceType.TOPIC, new_topic()))
    assert got["unclean.leader.election.enable"] == "false"
    assert got["compression.type"] == "producer"  # batches are stored as the producer sent them
    assert got["message.timestamp.type"] == "CreateTime"
    assert int(got["min.insync.replicas"] or 0) >= 1


def test_broker_configs_include_the_replication_defaults(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    broker_id = min(admin.list_topics(timeout=10).brokers)
    got = configs(bootstrap, ConfigResource(ResourceType.BROKER, str(broker_id)))
    assert got["message.max.bytes"] == KAFKA_MAX_MESSAGE_BYTES
    assert got["unclean.leader.election.enable"] == "false"
    for name in (
        "default.replication.factor",
        "min.insync.replicas",
        "offsets.topic.replication.factor",
    ):
        assert int(got[name] or 0) >= 1, name
