"""librdkafka errors become our error tree, typed by fault and retriability, names kept."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

import headwater.transport as hwt
from headwater.transport.kafka.errors import delivery_error, translate


@pytest.mark.parametrize(
    ("code", "kind", "retriable"),
    [
        (KafkaError._TRANSPORT, hwt.BrokerUnavailableError, True),
        (KafkaError._ALL_BROKERS_DOWN, hwt.BrokerUnavailableError, True),
        (KafkaError._TIMED_OUT, hwt.BrokerUnavailableError, True),
        (KafkaError._RESOLVE, hwt.BrokerUnavailableError, True),
        (KafkaError.TOPIC_ALREADY_EXISTS, hwt.TopicError, False),
        (KafkaError.UNKNOWN_TOPIC_OR_PART, hwt.TopicError, True),
        (KafkaError.INVALID_PARTITIONS, hwt.TopicError, False),
        (KafkaError._INVALID_ARG, hwt.TransportConfigError, False),
        (KafkaError.ILLEGAL_GENERATION, hwt.CommitError, False),
        (KafkaError.REBALANCE_IN_PROGRESS, hwt.CommitError, False),
    ],
)
def test_translate_types_by_fault(code: int, kind: type, retriable: bool) -> None:
    err = KafkaError(code, retriable=retriable)
    error = translate(KafkaException(err), "doing it", topic="t")
    assert type(error) is kind
    assert error.retriable is retriable
    assert error.code == code
    assert error.name == err.name()
    assert str(error).startswith("doing it: ")
    assert f"[{err.name()} ({code})]" in str(error)


def test_topic_errors_carry_the_topic() -> None:
    error = translate(KafkaError(KafkaError.TOPIC_ALREADY_EXISTS), "create", topic="clicks")
    assert isinstance(error, hwt.TopicError)
    assert error.topic == "clicks"


def test_fatal_errors_are_never_retriable() -> None:
    error = translate(KafkaError(KafkaError._FATAL, "sequence lost", fatal=True), "producer")
    assert type(error) is hwt.TransportError
    assert not error.retriable
    assert "fatal" in str(error)


def test_unknown_codes_keep_kafkas_retriable_verdict() -> None:
    error = translate(KafkaError(KafkaError.NOT_ENOUGH_REPLICAS, retriable=True), "produce")
    assert type(error) is hwt.TransportError
    assert error.retriable


@pytest.mark.parametrize(
    ("code", "retriable"),
    [
        (KafkaError._MSG_TIMED_OUT, True),  # librdkafka says no; producing again is safe for us
        (KafkaError._TRANSPORT, True),
        (KafkaError._PURGE_QUEUE, True),
        (KafkaError.MSG_SIZE_TOO_LARGE, False),
        (KafkaError.UNKNOWN_TOPIC_OR_PART, False),
    ],
)
def test_delivery_errors_name_the_record_and_the_kafka_error(code: int, retriable: bool) -> None:
    error = delivery_error(KafkaError(code), "events", 3, hint="why")
    assert isinstance(error, hwt.DeliveryError)
    assert (error.topic, error.partition) == ("events", 3)
    assert (error.name, error.code, error.retriable) == (KafkaError(code).name(), code, retriable)
    assert str(error).startswith("record to events[3] not delivered")
    assert "(why)" in str(error)


def test_delivery_error_before_partitioning_has_no_partition() -> None:
    error = delivery_error(KafkaError(KafkaError._MSG_TIMED_OUT), "events", -1)
    assert error.partition is None
    assert str(error).startswith("record to events not delivered")


def test_every_error_is_a_transport_error() -> None:
    for kind in (
        hwt.TransportConfigError,
        hwt.BrokerUnavailableError,
        hwt.TopicError,
        hwt.DeliveryError,
        hwt.CommitError,
        hwt.QueueFullError,
    ):
        assert issubclass(kind, hwt.TransportError)
