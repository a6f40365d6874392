"""What tells a topic a source created (durably) from one the broker auto-created: on the test
cluster the broker defaults are already replication factor 3 and min ISR 2, so only the source of
`min.insync.replicas` differs: set on the topic itself (DYNAMIC_TOPIC_CONFIG) by
`Admin.create_topics`, inherited from the broker's default (a *_BROKER_CONFIG source) by
auto-creation."""

from __future__ import annotations

from confluent_kafka.admin import ConfigResource, ConfigSource

import headwater.transport as hwt
from tests.kit.kafka import KafkaCluster


def assert_created_durably(cluster: KafkaCluster, topic: str, partitions: int = 1) -> None:
    """`topic` has `partitions` partitions of 3 replicas and its own `min.insync.replicas=2`."""
    with hwt.connect(cluster.url) as conn:
        described = conn.admin().describe_partitions([topic])[topic]
    assert len(described) == partitions, described
    assert all(len(p.replicas) == 3 for p in described), described
    resource = ConfigResource("topic", topic)
    entry = cluster.admin().describe_configs([resource])[resource].result(10)
    min_isr = entry["min.insync.replicas"]
    source = ConfigSource(min_isr.source).name
    assert (min_isr.value, source) == ("2", "DYNAMIC_TOPIC_CONFIG"), (
        f"{topic}: min.insync.replicas={min_isr.value} from {source}"
    )


def delete_topics(cluster: KafkaCluster, *topics: str) -> None:
    """Remove topics an earlier test of the session may have made, so this one makes them."""
    with hwt.connect(cluster.url) as conn:
        conn.admin().delete_topics(topics, missing_ok=True)
