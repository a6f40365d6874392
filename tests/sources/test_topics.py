"""Sources create the topics they write: missing ones with the partitions auto-creation would
give (the broker's `num.partitions`), existing ones left as they are."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import headwater.transport as hwt
from headwater.sources.topics import ensure_topics
from tests.kit.services import BrokerProcess


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_missing_topics_get_the_brokers_default_partitions_and_existing_ones_stay(
    broker_factory: Callable[..., BrokerProcess],
) -> None:
    broker = broker_factory("--default-partitions", "3", "--no-auto-create-topics")
    old, new = unique("old"), unique("new")
    with hwt.connect(broker.bootstrap) as conn:
        admin = conn.admin()
        admin.create_topics([hwt.TopicSpec(old, partitions=2)])
        created = ensure_topics(admin, [old, new, new])
        topics = admin.list_topics()
    assert created == [new]
    assert (topics[old], topics[new]) == (2, 3)


def test_nothing_is_created_when_every_topic_exists(broker: BrokerProcess) -> None:
    name = unique("there")
    with hwt.connect(broker.bootstrap) as conn:
        admin = conn.admin()
        admin.create_topics([hwt.TopicSpec(name)])
        assert ensure_topics(admin, [name]) == []
