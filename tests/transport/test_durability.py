"""The durability topic creation asks for when the caller leaves it open (rules of `durability`)."""

from __future__ import annotations

import pytest

import headwater.transport as hwt
from headwater.transport.durability import durable_spec


@pytest.mark.parametrize(
    ("cluster", "replication", "min_isr"),
    [
        (hwt.ClusterDefaults(3, 1, 1), 3, "2"),  # a stock Kafka's defaults are raised
        (hwt.ClusterDefaults(5, 3, 2), 3, "2"),
        (hwt.ClusterDefaults(5, 4, 3), 4, "3"),  # the broker asks for more: it wins
        (hwt.ClusterDefaults(3), 3, "2"),  # defaults unreadable: the promise still holds
        (hwt.ClusterDefaults(1, 1, 1), 1, None),  # the embedded broker: one copy, no min ISR
        (hwt.ClusterDefaults(1, 3, 2), 1, None),  # a 1-node Kafka set up for 3: capped, no failure
        (hwt.ClusterDefaults(2, 3, 2), 2, None),
        (hwt.ClusterDefaults(1), None, None),  # nothing known: the broker's default decides
    ],
)
def test_open_spec_gets_the_durable_factor_for_the_cluster(
    cluster: hwt.ClusterDefaults, replication: int | None, min_isr: str | None
) -> None:
    spec = durable_spec(hwt.TopicSpec("t", 3, {"retention.ms": "1000"}), cluster)
    assert spec.replication_factor == replication
    assert spec.config.get("min.insync.replicas") == min_isr
    assert (spec.name, spec.partitions, spec.config["retention.ms"]) == ("t", 3, "1000")


def test_what_the_caller_sets_is_kept() -> None:
    cluster = hwt.ClusterDefaults(3, 3, 2)
    one = durable_spec(hwt.TopicSpec("t", replication_factor=1), cluster)
    assert (one.replication_factor, one.config) == (1, {})
    own = durable_spec(hwt.TopicSpec("t", config={"min.insync.replicas": "1"}), cluster)
    assert (own.replication_factor, own.config) == (3, {"min.insync.replicas": "1"})
