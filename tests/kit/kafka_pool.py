"""Which Kafka cluster a test runs on, and at most one of them running at a time.

Every test that asks for a Kafka cluster runs on both kinds (`KAFKA_PARAMS`: Kafka 4 in KRaft
mode, ids `kafka-kraft`; Kafka 3.9 on ZooKeeper, `kafka-zk`). Each kind is one cluster per
session, started when a test first needs it. Two clusters are six to nine JVMs, so
`KafkaClusterPool.get` stops the other kind first, `group_by_kind` runs all tests of one kind
together (at the place of the first), and tests/conftest.py stops a kind after its last test.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.kit.kafka import KafkaCluster, KafkaKind, kafka_libs
from tests.kit.zookeeper import ZooKeeperCluster

#: The parameters of `kafka_cluster` (and of the transport suite's `bootstrap`): one per kind.
KAFKA_PARAMS = [
    pytest.param(KafkaKind.KRAFT, id="kafka-kraft", marks=pytest.mark.kafka),
    pytest.param(KafkaKind.ZOOKEEPER, id="kafka-zk", marks=pytest.mark.kafka),
]

CLUSTER_CLASSES: dict[KafkaKind, type[KafkaCluster]] = {
    KafkaKind.KRAFT: KafkaCluster,
    KafkaKind.ZOOKEEPER: ZooKeeperCluster,
}


class KafkaClusterPool:
    """The session's clusters by kind; `get` starts one (stopping the other) when needed."""

    def __init__(self, new_directory: Callable[[str], Path]) -> None:
        self._new_directory = new_directory
        self._running: dict[KafkaKind, KafkaCluster] = {}

    def get(self, kind: KafkaKind) -> KafkaCluster:
        """The running cluster of `kind`; skips (fails in CI) where its jars are not fetched."""
        cluster = self._running.get(kind)
        if cluster is not None:
            return cluster
        libs = kafka_libs(kind=kind)
        if libs is None:  # a setup bug in CI; elsewhere the tests skip
            message = f"Apache Kafka's jars ({kind}) are not fetched: run scripts/fetch-kafka.sh"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        for other in list(self._running):
            self.stop(other)
        directory = self._new_directory(f"kafka-{kind}")
        cluster = CLUSTER_CLASSES[kind](directory, libs).start()
        self._running[kind] = cluster
        return cluster

    def stop(self, kind: KafkaKind | None = None) -> None:
        """Stop the cluster of `kind` (every cluster when None); a later `get` starts a new one."""
        for each in [kind] if kind is not None else list(self._running):
            cluster = self._running.pop(each, None)
            if cluster is not None:
                cluster.stop()


def kind_of(item: pytest.Item) -> KafkaKind | None:
    """The Kafka cluster kind `item` runs on: a `KafkaKind` among its parameters, if any."""
    callspec = getattr(item, "callspec", None)
    params = callspec.params.values() if callspec is not None else ()
    return next((value for value in params if isinstance(value, KafkaKind)), None)


def group_by_kind(items: list[pytest.Item]) -> list[pytest.Item]:
    """`items` with each kind's tests moved together to where its first test was (the others
    keep their order), so each cluster starts once and stops before the next starts."""
    groups: dict[KafkaKind, list[pytest.Item]] = {}
    for item in items:
        kind = kind_of(item)
        if kind is not None:
            groups.setdefault(kind, []).append(item)
    ordered: list[pytest.Item] = []
    for item in items:
        kind = kind_of(item)
        if kind is None:
            ordered.append(item)
        elif groups[kind] and groups[kind][0] is item:
            ordered.extend(groups[kind])
    return ordered


def last_items(items: list[pytest.Item]) -> dict[KafkaKind, pytest.Item]:
    """The last test of each kind in `items` (after it, that kind's cluster can stop)."""
    last: dict[KafkaKind, pytest.Item] = {}
    for item in items:
        kind = kind_of(item)
        if kind is not None:
            last[kind] = item
    return last
