"""The private Kafka cluster itself: three racks, durable topic defaults, a node lost and back.

These are the promises the broker-loss tests build on: a topic's replicas sit in all three racks,
a record acknowledged with acks=all survives kill -9 of its partition's leader, a paused node drops
out of the cluster and comes back, and a restarted node catches up into the ISR.
"""

from __future__ import annotations

import uuid

import pytest

# Where confluent-kafka defines them (as src/headwater/transport/kafka/admin.py imports them).
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.admin._resource import ResourceType

import headwater.transport as hwt
from tests.kit.kafka import KafkaCluster
from tests.kit.waiting import wait_for, wait_until
from tests.transport.support import consume_n

pytestmark = pytest.mark.kafka


def new_topic(cluster: KafkaCluster, partitions: int = 1) -> str:
    """A topic created with the cluster's defaults (no replication factor or config given)."""
    name = f"kit-{uuid.uuid4().hex[:10]}"
    with hwt.connect(cluster.url) as transport:
        transport.admin().create_topics([hwt.TopicSpec(name, partitions)])
    return name


def partition_state(cluster: KafkaCluster, topic: str, partition: int = 0) -> tuple[int, set[int]]:
    """(leader, in-sync replicas) of one partition, as the cluster's metadata says now."""
    p = cluster.admin().list_topics(topic, timeout=10).topics[topic].partitions[partition]
    return int(p.leader), set(p.isrs)


def produce(producer: hwt.Producer, topic: str, values: list[bytes]) -> None:
    """acks=all and idempotence (the transport's defaults); every record acknowledged."""
    deliveries: list[hwt.Delivery] = []
    for value in values:
        producer.produce(topic, value, partition=0, on_delivery=deliveries.append)
    assert producer.flush(60) == 0
    assert [d.error for d in deliveries if not d.ok] == []


def read_all(transport: hwt.Transport, topic: str, n: int) -> list[bytes]:
    with transport.consumer(f"kit-{uuid.uuid4().hex[:8]}") as consumer:
        consumer.assign([hwt.TopicPartition(topic, 0, hwt.EARLIEST)])
        records = consume_n(consumer, n, deadline_s=60)
        assert consumer.consume(max_records=1, timeout_s=0.5) == []  # and nothing more
    return [r.value or b"" for r in records]


def test_topics_get_three_replicas_one_per_rack_and_min_isr_two(
    kafka_cluster: KafkaCluster,
) -> None:
    topic = new_topic(kafka_cluster, partitions=3)
    admin = kafka_cluster.admin()
    meta = admin.list_topics(topic, timeout=10)
    racks = {b.id: b.rack for b in admin.describe_cluster().result(10).nodes}
    assert sorted(racks.values()) == ["az1", "az2", "az3"]
    for partition in meta.topics[topic].partitions.values():
        assert sorted(racks[r] for r in partition.replicas) == ["az1", "az2", "az3"]
        assert len(partition.isrs) == 3
    resource = ConfigResource(ResourceType.TOPIC, topic)
    config = admin.describe_configs([resource])[resource].result(10)
    assert config["min.insync.replicas"].value == "2"
    assert config["unclean.leader.election.enable"].value == "false"


def test_acknowledged_records_survive_kill_9_of_the_leader(kafka_cluster: KafkaCluster) -> None:
    topic = new_topic(kafka_cluster)
    leader = kafka_cluster.leader(topic)

    def new_leader() -> int | None:
        lead = partition_state(kafka_cluster, topic)[0]
        return lead if lead not in (-1, leader.node_id) else None

    with hwt.connect(kafka_cluster.url) as transport, transport.producer() as producer:
        produce(producer, topic, [b"before-%d" % i for i in range(100)])
        leader.kill()
        wait_for(new_leader, 60, "a new leader after kill -9 of the old one", interval_s=0.2)
        produce(producer, topic, [b"after-%d" % i for i in range(100)])  # the same producer
        values = read_all(transport, topic, 200)
    expected = [b"before-%d" % i for i in range(100)] + [b"after-%d" % i for i in range(100)]
    assert values == expected


def test_a_restarted_node_catches_up_into_the_isr(kafka_cluster: KafkaCluster) -> None:
    topic = new_topic(kafka_cluster)
    follower = next(n for n in kafka_cluster.nodes if n is not kafka_cluster.leader(topic))
    follower.kill()
    with hwt.connect(kafka_cluster.url) as transport, transport.producer() as producer:
        produce(producer, topic, [b"%d" % i for i in range(50)])  # 2 in sync are enough
        follower.start()
        wait_until(
            lambda: partition_state(kafka_cluster, topic)[1] == {1, 2, 3},
            90,
            f"node {follower.node_id} back in the ISR of {topic}",
            interval_s=0.2,
        )
        kafka_cluster.leader(topic)  # still led
        assert read_all(transport, topic, 50) == [b"%d" % i for i in range(50)]


def test_a_paused_node_drops_out_of_the_cluster_until_resumed(kafka_cluster: KafkaCluster) -> None:
    node = kafka_cluster.nodes[-1]
    node.pause()
    wait_until(
        lambda: node.node_id not in kafka_cluster.broker_ids(),
        60,
        f"the paused node {node.node_id} to be fenced",
        interval_s=0.2,
    )
    assert node.alive()  # stopped, not dead
    node.resume()
    kafka_cluster.wait_for_brokers(3, 60)
