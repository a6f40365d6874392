"""The durability headwater asks for when it creates a topic and the caller did not say.

Rules:
1. On a cluster of 3 or more brokers a topic gets replication factor 3 and
   `min.insync.replicas=2`: with producers at `acks=all`, every acknowledged record is on at least
   two brokers, and one broker (or zone) can be lost without losing a record or stopping writes.
   Where the broker's own defaults ask for more (`default.replication.factor`,
   `min.insync.replicas`), the higher value wins.
2. On fewer brokers the replication factor is the broker's default capped at the broker count,
   so creating a topic never fails on a single node (the embedded broker, a dev Kafka); a single
   node cannot replicate, and `headwater doctor` says so.
3. What the caller sets (`TopicSpec.replication_factor`, `min.insync.replicas` in its config)
   is kept as given.

Replica placement is left to Kafka: a CreateTopics request with a replication factor and no
assignment is placed across `broker.rack`s by the controller (checked on the 3-zone test cluster:
each partition's replicas span the 3 racks), so headwater never hand-assigns replicas.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from headwater.transport.base import TopicSpec

#: The promise: copies of every partition, and copies that must hold a record before it is acked.
DURABLE_REPLICATION_FACTOR = 3
DURABLE_MIN_INSYNC_REPLICAS = 2
MIN_INSYNC_REPLICAS = "min.insync.replicas"


@dataclass(frozen=True, slots=True)
class ClusterDefaults:
    """What a topic creation needs to know of the cluster; None where the broker did not say."""

    brokers: int
    default_replication_factor: int | None = None
    min_insync_replicas: int | None = None


def durable_spec(spec: TopicSpec, cluster: ClusterDefaults) -> TopicSpec:
    """`spec` with the replication factor and min ISR of the rules above filled in."""
    replication = spec.replication_factor
    if replication is None:
        replication = replication_factor_for(cluster)
    config = dict(spec.config)
    if (
        MIN_INSYNC_REPLICAS not in config
        and replication is not None
        and replication >= DURABLE_REPLICATION_FACTOR
    ):
        wanted = max(DURABLE_MIN_INSYNC_REPLICAS, cluster.min_insync_replicas or 0)
        config[MIN_INSYNC_REPLICAS] = str(wanted)
    return dataclasses.replace(spec, replication_factor=replication, config=config)


def replication_factor_for(cluster: ClusterDefaults) -> int | None:
    """Rules 1 and 2; None leaves the choice to the broker (its default was not readable)."""
    default = cluster.default_replication_factor
    if cluster.brokers >= DURABLE_REPLICATION_FACTOR:
        return max(DURABLE_REPLICATION_FACTOR, default or 0)
    if default is None:
        return None
    return max(1, min(default, cluster.brokers))
