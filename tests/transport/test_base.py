"""Value objects: checked on construction, immutable, Kafka's conventions."""

from __future__ import annotations

import dataclasses

import pytest

import headwater.transport as hwt


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "1-249 of ASCII"),
        ({"name": "a" * 250}, "1-249 of ASCII"),
        ({"name": "has space"}, "1-249 of ASCII"),
        ({"name": "ünïcode"}, "1-249 of ASCII"),
        ({"name": ".."}, "1-249 of ASCII"),
        ({"name": "t\n"}, "1-249 of ASCII"),
        ({"name": "t", "partitions": 0}, "partitions must be >= 1"),
        ({"name": "t", "replication_factor": 0}, "replication_factor must be >= 1"),
    ],
)
def test_topic_spec_refuses_what_kafka_would(kwargs: dict, message: str) -> None:
    with pytest.raises(hwt.TransportConfigError, match=message):
        hwt.TopicSpec(**kwargs)


def test_topic_spec_accepts_kafka_names() -> None:
    spec = hwt.TopicSpec("cdc.mysql-1.shop.orders_v2", partitions=6, replication_factor=3)
    assert (spec.partitions, spec.replication_factor, spec.config) == (6, 3, {})


def test_records_compare_by_value_and_have_no_dict() -> None:
    record = hwt.Record("t", 0, 5, b"k", None, (("h", b"1"),), 17)
    assert record == hwt.Record("t", 0, 5, b"k", None, (("h", b"1"),), 17)
    assert not hasattr(record, "__dict__")  # slots: small and fast to make by the thousand
    with pytest.raises(AttributeError):
        record.extra = 1  # type: ignore[attr-defined]


def test_other_value_objects_are_frozen() -> None:
    part = hwt.TopicPartition("t", 0, 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        part.offset = 6  # type: ignore[misc]
    assert {part: 1}[hwt.TopicPartition("t", 0, 5)] == 1  # hashable: usable as a key


def test_last_header_wins() -> None:
    record = hwt.Record("t", 0, 0, None, b"v", (("a", b"1"), ("b", None), ("a", b"2")))
    assert (record.header("a"), record.header("b"), record.header("c")) == (b"2", None, None)


def test_delivery_ok_means_no_error() -> None:
    assert hwt.Delivery("t", 0, 3).ok
    error = hwt.DeliveryError("lost", name="_MSG_TIMED_OUT", code=-192, retriable=True)
    assert not hwt.Delivery("t", -1, -1, error).ok


def test_offset_sentinels_are_kafkas() -> None:
    assert (hwt.EARLIEST, hwt.LATEST) == (-2, -1)
