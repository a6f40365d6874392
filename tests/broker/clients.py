"""Client helpers shared by the broker's end-to-end tests: real confluent-kafka clients, no mocks.

Every helper waits on a condition with a deadline (never a bare sleep) and raises AssertionError
with what it saw when the deadline passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

from tests.kit.consuming import consume_until, valid_messages
from tests.kit.waiting import wait_until as wait_until  # the broker tests import it from here

#: What every test producer uses unless told otherwise: the delivery guarantees of DESIGN.md.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 5,
}


@dataclass(frozen=True, slots=True)
class Delivered:
    """One acknowledged record: where the broker says it put it, and what was sent."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def make_producer(bootstrap: str, **conf: Any) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS, **conf})


def produce(
    bootstrap: str,
    topic: str,
    values: Sequence[bytes | None],
    keys: Sequence[bytes | None] | None = None,
    *,
    partition: int | None = None,
    deadline_s: float = 30.0,
    **conf: Any,
) -> list[Delivered]:
    """Produce every value and wait for every delivery report; return them in send order.

    Fails if any record is not acknowledged (delivery error or deadline).
    """
    producer = make_producer(bootstrap, **conf)
    reports: dict[int, Delivered] = {}
    errors: list[str] = []

    def report(index: int) -> Callable[[KafkaError | None, Message], None]:
        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                errors.append(f"record {index}: {err}")
            else:
                reports[index] = Delivered(msg.partition(), msg.offset(), msg.key(), msg.value())

        return on_delivery

    extra = {} if partition is None else {"partition": partition}
    for i, value in enumerate(values):
        key = keys[i] if keys is not None else None
        while True:
            try:
                producer.produce(topic, value, key=key, on_delivery=report(i), **extra)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(deadline_s)
    assert errors == [], errors[:10]
    assert left == 0, f"{left} records still unacknowledged after {deadline_s}s"
    assert len(reports) == len(values)
    return [reports[i] for i in range(len(values))]


def make_consumer(bootstrap: str, group: str = "headwater-tests", **conf: Any) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            **conf,
        }
    )


def consume_n(consumer: Consumer, count: int, deadline_s: float = 30.0) -> list[Message]:
    """Poll `consumer` until `count` records arrived (fails on a consumer error or the deadline)."""
    return consume_until(
        lambda got: valid_messages(
            consumer.consume(min(1000, count - len(got)), 0.2), (KafkaError._PARTITION_EOF,)
        ),
        lambda got: len(got) >= count,
        deadline_s,
        f"{count} records",
    )


def read_partition(
    bootstrap: str,
    topic: str,
    partition: int = 0,
    start: int = OFFSET_BEGINNING,
    count: int | None = None,
    deadline_s: float = 30.0,
) -> list[Message]:
    """Read one partition from `start` without a group, up to `count` records or its end."""
    consumer = make_consumer(bootstrap, group=f"reader-{topic}-{partition}")
    try:
        if count is None:
            low, high = high_watermark(consumer, topic, partition, deadline_s)
            first = low if start == OFFSET_BEGINNING else start
            count = max(0, high - first)
        consumer.assign([TopicPartition(topic, partition, start)])
        return consume_n(consumer, count, deadline_s) if count else []
    finally:
        consumer.close()


def high_watermark(
    consumer: Consumer, topic: str, partition: int = 0, deadline_s: float = 10.0
) -> tuple[int, int]:
    """(log start offset, log end offset) as the broker reports them now."""
    low, high = consumer.get_watermark_offsets(
        TopicPartition(topic, partition), timeout=deadline_s, cached=False
    )
    return int(low), int(high)


def end_offset(bootstrap: str, topic: str, partition: int = 0) -> int:
    consumer = make_consumer(bootstrap, group="watermarks")
    try:
        return high_watermark(consumer, topic, partition)[1]
    finally:
        consumer.close()
