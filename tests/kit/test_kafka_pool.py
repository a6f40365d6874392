"""The order the Kafka tests run in: one cluster kind's tests together, so each kind's cluster
starts once and is stopped before the other starts."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from tests.kit.kafka import KafkaKind
from tests.kit.kafka_pool import group_by_kind, kind_of, last_items

KRAFT, ZK = KafkaKind.KRAFT, KafkaKind.ZOOKEEPER


def item(name: str, **params: Any) -> pytest.Item:
    """A stand-in for a collected test: a name and its parameters (`callspec.params`)."""
    callspec = SimpleNamespace(params=params) if params else None
    return cast(pytest.Item, SimpleNamespace(name=name, callspec=callspec))


def names(items: list[pytest.Item]) -> list[str]:
    return [i.name for i in items]


def test_kind_is_the_kafka_kind_among_the_parameters_whatever_their_name() -> None:
    assert kind_of(item("a", kafka_kind=ZK)) is ZK
    assert kind_of(item("b", bootstrap=KRAFT, size=3)) is KRAFT
    assert kind_of(item("c", bootstrap="embedded")) is None
    assert kind_of(item("d")) is None


def test_each_kinds_tests_move_to_where_its_first_test_was() -> None:
    items = [
        item("plain1"),
        item("t1[kraft]", kafka_kind=KRAFT),
        item("t1[zk]", kafka_kind=ZK),
        item("plain2"),
        item("t2[embedded]", bootstrap="embedded"),
        item("t2[kraft]", bootstrap=KRAFT),
        item("t2[zk]", bootstrap=ZK),
    ]
    ordered = group_by_kind(items)
    assert names(ordered) == [
        "plain1", "t1[kraft]", "t2[kraft]", "t1[zk]", "t2[zk]", "plain2", "t2[embedded]",
    ]  # fmt: skip
    assert sorted(names(ordered)) == sorted(names(items))  # none lost, none twice
    assert {k: i.name for k, i in last_items(ordered).items()} == {KRAFT: "t2[kraft]", ZK: "t2[zk]"}
