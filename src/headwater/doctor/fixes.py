"""The exact commands a finding tells the user to run: Kafka's own tools, ready to paste.

`kafka-configs.sh` changes topic and broker settings at once (no restart); a replication factor
or a replica placement changes through `kafka-reassign-partitions.sh` with a JSON plan, which is
written here in full: keep each partition's live replicas (its leader first, so leadership does
not move), then add brokers from zones the partition does not use yet, then any live broker.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

import headwater.transport as hwt


def topic_config(bootstrap: str, topic: str, key: str, value: str) -> str:
    return (
        f"kafka-configs.sh --bootstrap-server {bootstrap} --entity-type topics "
        f"--entity-name {shlex.quote(topic)} --alter --add-config {key}={value}"
    )


def broker_default_config(bootstrap: str, key: str, value: str) -> str:
    """For every broker of the cluster (the dynamic cluster-wide default)."""
    return (
        f"kafka-configs.sh --bootstrap-server {bootstrap} --entity-type brokers "
        f"--entity-default --alter --add-config {key}={value}"
    )


def describe_partitions(bootstrap: str, topic: str, which: str) -> str:
    """`which`: under-replicated-partitions or unavailable-partitions."""
    return (
        f"kafka-topics.sh --bootstrap-server {bootstrap} --describe --{which} "
        f"--topic {shlex.quote(topic)}"
    )


def reassign(
    bootstrap: str,
    topic: str,
    partitions: Sequence[hwt.PartitionReplicas],
    brokers: Sequence[hwt.BrokerNode],
    replication_factor: int,
) -> str:
    """Write the plan and run it: every partition on `replication_factor` live brokers, spread
    over as many zones as there are."""
    plan = {
        "version": 1,
        "partitions": [
            {
                "topic": topic,
                "partition": p.partition,
                "replicas": spread(p, brokers, replication_factor),
            }
            for p in partitions
        ],
    }
    file = f"reassign-{topic}.json"
    return (
        f"echo {shlex.quote(json.dumps(plan, separators=(',', ':')))} > {shlex.quote(file)} && "
        f"kafka-reassign-partitions.sh --bootstrap-server {bootstrap} "
        f"--reassignment-json-file {shlex.quote(file)} --execute"
    )


def spread(
    partition: hwt.PartitionReplicas, brokers: Sequence[hwt.BrokerNode], count: int
) -> list[int]:
    """Replicas for `partition`: its live ones in distinct zones first (leader first), then
    brokers of unused zones, then the rest; rotated by partition so load spreads too."""
    live = {b.id: b for b in brokers}
    current = [r for r in partition.replicas if r in live]
    if partition.leader in current:
        current.remove(partition.leader)
        current.insert(0, partition.leader)
    order = sorted(live)
    shift = partition.partition % len(order) if order else 0
    others = [b for b in order[shift:] + order[:shift] if b not in current]
    chosen: list[int] = []
    zones: set[str | None] = set()
    for candidate in current + others:  # first pass: one replica per zone
        rack = live[candidate].rack
        if len(chosen) < count and (rack is None or rack not in zones):
            chosen.append(candidate)
            zones.add(rack)
    for candidate in current + others:  # then fill up, zones repeating
        if len(chosen) < count and candidate not in chosen:
            chosen.append(candidate)
    return chosen
