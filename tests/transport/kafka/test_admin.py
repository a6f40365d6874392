"""Topic administration against a real broker: create, list, describe, delete; safe repeats."""

from __future__ import annotations

import uuid

import pytest

import headwater.transport as hwt

from ..support import wait_until


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_create_list_delete(transport: hwt.Transport) -> None:
    admin = transport.admin()
    one, three = unique("one"), unique("three")
    admin.create_topics([hwt.TopicSpec(one), hwt.TopicSpec(three, partitions=3)])
    topics = admin.list_topics()
    assert (topics[one], topics[three]) == (1, 3)
    admin.delete_topics([one])
    topics = admin.list_topics()
    assert one not in topics and topics[three] == 3


def test_created_topic_is_usable_at_once(transport: hwt.Transport) -> None:
    """wait=True returns only when the partitions are visible: producing cannot race creation."""
    topic = unique("ready")
    transport.admin().create_topics([hwt.TopicSpec(topic, partitions=4)])
    deliveries: list[hwt.Delivery] = []
    with transport.producer() as producer:
        producer.produce(topic, b"v", partition=3, on_delivery=deliveries.append)
        assert producer.flush(30) == 0
    assert (deliveries[0].partition, deliveries[0].offset, deliveries[0].error) == (3, 0, None)


def test_creating_an_existing_topic_fails_unless_exist_ok(transport: hwt.Transport) -> None:
    admin = transport.admin()
    topic = unique("twice")
    admin.create_topics([hwt.TopicSpec(topic, partitions=2)])
    with pytest.raises(hwt.TopicError) as caught:
        admin.create_topics([hwt.TopicSpec(topic, partitions=2)])
    assert (caught.value.name, caught.value.topic) == ("TOPIC_ALREADY_EXISTS", topic)
    admin.create_topics([hwt.TopicSpec(topic, partitions=2)], exist_ok=True)
    other = unique("fresh")
    admin.create_topics([hwt.TopicSpec(topic), hwt.TopicSpec(other)], exist_ok=True)
    topics = admin.list_topics()
    assert (topics[topic], topics[other]) == (2, 1)


def test_deleting_a_missing_topic_fails_unless_missing_ok(transport: hwt.Transport) -> None:
    admin = transport.admin()
    topic = unique("never")
    with pytest.raises(hwt.TopicError) as caught:
        admin.delete_topics([topic])
    assert caught.value.name == "UNKNOWN_TOPIC_OR_PART"
    admin.delete_topics([topic], missing_ok=True)


def test_describe_topic_reports_partitions_and_config(transport: hwt.Transport) -> None:
    admin = transport.admin()
    topic = unique("positions")
    config = {"cleanup.policy": "compact", "retention.ms": "86400000"}
    admin.create_topics([hwt.TopicSpec(topic, partitions=2, config=config)])
    description = admin.describe_topic(topic)
    assert (description.name, description.partitions) == (topic, 2)
    assert {k: description.config.get(k) for k in config} == config


def test_describe_missing_topic_is_a_topic_error(transport: hwt.Transport) -> None:
    with pytest.raises(hwt.TopicError, match="no such topic"):
        transport.admin().describe_topic(unique("missing"))


def test_empty_requests_are_no_ops(transport: hwt.Transport) -> None:
    admin = transport.admin()
    admin.create_topics([])
    admin.delete_topics([])


def test_without_wait_the_change_still_happens(transport: hwt.Transport) -> None:
    admin = transport.admin()
    topic = unique("async")
    admin.create_topics([hwt.TopicSpec(topic)], wait=False)
    wait_until(lambda: topic in admin.list_topics(), 15, "the topic to appear")
    admin.delete_topics([topic], wait=False)
    wait_until(lambda: topic not in admin.list_topics(), 15, "the topic to go")


def test_check_lists_topics(transport: hwt.Transport) -> None:
    topic = unique("checked")
    transport.admin().create_topics([hwt.TopicSpec(topic)])
    assert transport.check()[topic] == 1


def test_unreachable_broker_is_reported_once_the_timeout_passes(dead_bootstrap: str) -> None:
    """Each call returns a retriable error though no broker ever answers (a call that ignored
    its timeout would hang until pytest-timeout ends the test)."""
    admin = hwt.connect(dead_bootstrap).admin()
    with pytest.raises(hwt.BrokerUnavailableError, match=f"list topics at {dead_bootstrap}") as e:
        admin.list_topics(timeout_s=1.0)
    assert e.value.retriable
    with pytest.raises(hwt.BrokerUnavailableError, match="create topic 't': no answer") as e:
        admin.create_topics([hwt.TopicSpec("t")], timeout_s=1.0)
    assert e.value.retriable
