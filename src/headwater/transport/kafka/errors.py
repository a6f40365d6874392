"""Translate confluent-kafka errors into `headwater.transport.errors` at the package boundary.

librdkafka reports errors three ways: `KafkaException` raised from a call, `KafkaError` on a
delivery report or consumed message, and `KafkaError` passed to the client's `error_cb`. All three
come through `translate` (or `delivery_error` for per-record outcomes), so the rest of the package
and its users only ever see our error tree. Negative codes (names starting with `_`) are local
librdkafka conditions; non-negative ones are the broker's Kafka protocol error codes.
"""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

from headwater.transport.errors import (
    BrokerUnavailableError,
    CommitError,
    DeliveryError,
    TopicError,
    TransportConfigError,
    TransportError,
)

E = KafkaError

#: Nobody answered: connection refused, name not resolved, every broker down, request timed out.
UNREACHABLE = frozenset(
    {E._TRANSPORT, E._ALL_BROKERS_DOWN, E._RESOLVE, E._TIMED_OUT, E.BROKER_NOT_AVAILABLE,
     E.NETWORK_EXCEPTION}
)  # fmt: skip
TOPIC = frozenset(
    {E.UNKNOWN_TOPIC_OR_PART, E._UNKNOWN_TOPIC, E._UNKNOWN_PARTITION, E.TOPIC_ALREADY_EXISTS,
     E.TOPIC_EXCEPTION, E.INVALID_PARTITIONS, E.INVALID_REPLICATION_FACTOR,
     E.INVALID_REPLICA_ASSIGNMENT, E.INVALID_CONFIG, E.TOPIC_AUTHORIZATION_FAILED,
     E.TOPIC_DELETION_DISABLED, E.UNKNOWN_TOPIC_ID, E.POLICY_VIOLATION}
)  # fmt: skip
CONFIG = frozenset({E._INVALID_ARG, E._INVALID_TYPE, E._CONFLICT, E._UNSUPPORTED_FEATURE})
#: The group moved on while we held the records: another member owns the partitions now.
GROUP_MOVED = frozenset({E.ILLEGAL_GENERATION, E.UNKNOWN_MEMBER_ID, E.REBALANCE_IN_PROGRESS})
#: Per-record outcomes worth producing again (at-least-once: a retry may store a duplicate, which
#: the lake deduplicates), on top of those the broker itself flags retriable.
RETRIABLE_DELIVERY = UNREACHABLE | {E._MSG_TIMED_OUT, E._PURGE_QUEUE, E._PURGE_INFLIGHT}


def kafka_error(exc: KafkaException | KafkaError) -> KafkaError:
    """The `KafkaError` inside a `KafkaException` (or the error itself)."""
    if isinstance(exc, KafkaError):
        return exc
    arg = exc.args[0] if exc.args else None
    if isinstance(arg, KafkaError):
        return arg
    return KafkaError(KafkaError._FAIL, str(exc))


def translate(
    exc: KafkaException | KafkaError, context: str, *, topic: str | None = None
) -> TransportError:
    """Our error for a librdkafka error; `context` says what we were doing ("create topic 'x'")."""
    err = kafka_error(exc)
    code, name = err.code(), err.name()
    message = f"{context}: {err.str()}"
    if err.fatal():
        return TransportError(f"{message} (fatal: the client must be recreated)",
                              retriable=False, name=name, code=code)  # fmt: skip
    if code in CONFIG:
        return TransportConfigError(message, name=name, code=code)
    if code in UNREACHABLE:
        return BrokerUnavailableError(message, name=name, code=code)
    if code in TOPIC:
        return TopicError(message, topic=topic, retriable=err.retriable(), name=name, code=code)
    if code in GROUP_MOVED:
        return CommitError(message, retriable=False, name=name, code=code)
    return TransportError(message, retriable=err.retriable(), name=name, code=code)


def delivery_error(
    err: KafkaError, topic: str | None, partition: int | None, hint: str | None = None
) -> DeliveryError:
    """The per-record error for a failed delivery report or a locally refused record."""
    where = f"{topic}[{partition}]" if partition is not None and partition >= 0 else f"{topic}"
    message = f"record to {where} not delivered: {err.str()}"
    if hint:
        message = f"{message} ({hint})"
    return DeliveryError(
        message,
        name=err.name(),
        code=err.code(),
        retriable=err.retriable() or err.code() in RETRIABLE_DELIVERY,
        topic=topic,
        partition=partition if partition is not None and partition >= 0 else None,
    )
