"""Topics created through the transport are durable on a cluster and still creatable on one node.

On the 3-zone Kafka cluster a topic gets replication factor 3, `min.insync.replicas=2` set on the
topic itself (not inherited), and Kafka's own placement spreads each partition over the 3 racks;
on the embedded broker the same call creates a 1-replica topic instead of failing.
"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import ConfigResource, ConfigSource

import headwater.transport as hwt
from tests.kit.kafka import RACKS, KafkaCluster
from tests.kit.services import BrokerProcess

from ..support import FAST_GROUP, consume_n


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.mark.kafka
def test_topic_on_the_cluster_has_three_replicas_on_three_racks(
    kafka_cluster: KafkaCluster,
) -> None:
    topic = unique("durable")
    with hwt.connect(kafka_cluster.url) as transport:
        admin = transport.admin()
        admin.create_topics([hwt.TopicSpec(topic, partitions=6)])
        partitions = admin.describe_partitions([topic])[topic]
        racks = {b.id: b.rack for b in admin.describe_cluster().brokers}
    assert len(partitions) == 6
    for p in partitions:
        assert len(p.replicas) == 3 and sorted(p.isr) == sorted(p.replicas)
        assert {racks[r] for r in p.replicas} == set(RACKS)
    resource = ConfigResource("topic", topic)
    entry = (
        kafka_cluster.admin()
        .describe_configs([resource])[resource]
        .result(10)["min.insync.replicas"]
    )
    # set on the topic by the transport, not inherited from the broker's default
    assert (entry.value, entry.source) == ("2", ConfigSource.DYNAMIC_TOPIC_CONFIG.value)


@pytest.mark.kafka
def test_explicit_replication_factor_is_kept_on_the_cluster(kafka_cluster: KafkaCluster) -> None:
    topic = unique("single")
    with hwt.connect(kafka_cluster.url) as transport:
        admin = transport.admin()
        admin.create_topics([hwt.TopicSpec(topic, replication_factor=1)])
        (partition,) = admin.describe_partitions([topic])[topic]
        assert len(partition.replicas) == 1
        assert admin.describe_topic(topic).config["min.insync.replicas"] == "2"  # the broker's


def test_topic_on_the_embedded_broker_has_one_replica(broker: BrokerProcess) -> None:
    topic = unique("local")
    with hwt.connect(f"kafka://{broker.bootstrap}") as transport:
        admin = transport.admin()
        admin.create_topics([hwt.TopicSpec(topic, partitions=2)])
        partitions = admin.describe_partitions([topic])[topic]
        assert [p.replicas for p in partitions] == [(1,), (1,)]
        assert admin.describe_topic(topic).config["min.insync.replicas"] == "1"


@pytest.mark.kafka
def test_consumer_with_a_client_rack_reads_from_the_cluster(kafka_cluster: KafkaCluster) -> None:
    """Kafka accepts the rack (KIP-392); without a rack-aware selector the leader serves."""
    topic = unique("rack")
    with hwt.connect(f"{kafka_cluster.url}?client.rack=az2") as transport:
        transport.admin().create_topics([hwt.TopicSpec(topic, partitions=1)])
        with transport.producer() as producer:
            for i in range(3):
                producer.produce(topic, f"v{i}".encode())
            assert producer.flush(30) == 0
        with transport.consumer(unique("g"), FAST_GROUP) as consumer:
            consumer.subscribe([topic])
            values = [r.value for r in consume_n(consumer, 3)]
    assert values == [b"v0", b"v1", b"v2"]
