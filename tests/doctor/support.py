"""Surveys built by hand for the pure checks: a cluster of N brokers in zones, topics on it."""

from __future__ import annotations

import headwater.transport as hwt
from headwater.doctor.survey import Survey, TopicSurvey

KAFKA_DEFAULTS = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "unclean.leader.election.enable": "false",
    "log.flush.interval.messages": str(2**63 - 1),
}
EMBEDDED_DEFAULTS = {
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "unclean.leader.election.enable": "false",
    "log.flush.policy": "interval",
}
SAFE_PRODUCER: dict[str, object] = {"acks": "all", "enable.idempotence": True}


def spread(partitions: int, rf: int, brokers: int = 3) -> tuple[hwt.PartitionReplicas, ...]:
    """Partitions with `rf` replicas each, round-robin over brokers 1..`brokers`, all in sync."""
    out = []
    for p in range(partitions):
        replicas = tuple((p + i) % brokers + 1 for i in range(rf))
        out.append(hwt.PartitionReplicas(p, replicas[0], replicas, replicas))
    return tuple(out)


def topic(
    name: str = "clickstream.events",
    partitions: tuple[hwt.PartitionReplicas, ...] | None = None,
    **config: str,
) -> TopicSurvey:
    settings = {"min.insync.replicas": "2", "unclean.leader.election.enable": "false"}
    settings.update({k.replace("_", "."): v for k, v in config.items()})
    return TopicSurvey(name, spread(3, 3) if partitions is None else partitions, settings)


def survey(
    *topics: TopicSurvey,
    brokers: int = 3,
    racks: tuple[str | None, ...] = ("az1", "az2", "az3"),
    broker_config: dict[str, str] | None = None,
    producer: dict[str, object] | None = None,
    client_rack: str | None = None,
) -> Survey:
    nodes = tuple(
        hwt.BrokerNode(i + 1, "127.0.0.1", 9092 + i, racks[i] if i < len(racks) else None)
        for i in range(brokers)
    )
    config = dict(KAFKA_DEFAULTS if broker_config is None else broker_config)
    return Survey(
        "kafka://127.0.0.1:9092",
        "127.0.0.1:9092",
        hwt.ClusterDescription("c1", 1, nodes),
        {n.id: dict(config) for n in nodes},
        topics,
        dict(SAFE_PRODUCER if producer is None else producer),
        client_rack,
    )
