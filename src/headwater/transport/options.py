"""Typed client options, passed explicitly (`transport.producer(ProducerOptions(linger_ms=0))`).

Defaults are the safe ones headwater's delivery guarantees rely on: producers wait for all in-sync
replicas (`acks="all"`) and are idempotent, so a retried send is never stored twice; consumers
never commit on their own (`enable_auto_commit=False`), because the exactly-once lake sink commits
only what it wrote, and start from the earliest retained record when a group has no offset.

`extra` is the escape hatch: raw librdkafka settings (https://github.com/confluentinc/librdkafka,
CONFIGURATION.md) applied last, over everything else. It is meaningful to the Kafka backend only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from headwater.transport.errors import TransportConfigError

RawConfig = Mapping[str, str | int | float | bool]
Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]


@dataclass(frozen=True, slots=True)
class ProducerOptions:
    """How a producer batches, acknowledges and gives up."""

    acks: Literal["all", 1, 0] = "all"
    enable_idempotence: bool = True
    linger_ms: float = 5.0  # wait this long to fill a batch: throughput for a few ms of latency
    compression: Compression = "none"
    #: A record not acknowledged within this time fails with a retriable DeliveryError
    #: (librdkafka's own default is 300000); bounds how long a dead broker goes unnoticed.
    message_timeout_ms: int = 120_000
    queue_max_messages: int = 100_000  # local queue bound; produce() waits when it is full
    #: How long produce() may wait for room in a full local queue; None waits as long as it takes
    #: (queued records either get delivered or time out, so the wait always ends).
    enqueue_timeout_s: float | None = None
    client_id: str | None = None
    extra: RawConfig = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.enable_idempotence and self.acks != "all":
            raise TransportConfigError(
                f"ProducerOptions: enable_idempotence=True requires acks='all', not {self.acks!r}"
            )
        if self.acks not in ("all", 1, 0):
            raise TransportConfigError(
                f"ProducerOptions: acks must be 'all', 1 or 0: {self.acks!r}"
            )
        if self.compression not in ("none", "gzip", "snappy", "lz4", "zstd"):
            raise TransportConfigError(f"ProducerOptions: unknown compression {self.compression!r}")
        _positive("ProducerOptions.message_timeout_ms", self.message_timeout_ms)
        _positive("ProducerOptions.queue_max_messages", self.queue_max_messages)
        if self.linger_ms < 0:
            raise TransportConfigError(f"ProducerOptions.linger_ms must be >= 0: {self.linger_ms}")


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    """Where a consumer group starts, how it commits, and how fast it notices a dead member."""

    auto_offset_reset: Literal["earliest", "latest", "error"] = "earliest"
    enable_auto_commit: bool = False
    #: A member silent this long is dropped from the group. None takes librdkafka's default (45 s);
    #: lower it in tests, where some brokers delay the first join by up to half of it.
    session_timeout_ms: int | None = None
    heartbeat_interval_ms: int | None = None
    max_poll_interval_ms: int | None = None  # max time between consume() calls before eviction
    assignment_strategy: Literal["range", "roundrobin", "cooperative-sticky"] | None = None
    fetch_max_wait_ms: int | None = None  # broker long-poll bound when no data is waiting
    client_id: str | None = None
    extra: RawConfig = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.auto_offset_reset not in ("earliest", "latest", "error"):
            raise TransportConfigError(
                "ConsumerOptions.auto_offset_reset must be 'earliest', 'latest' or 'error': "
                f"{self.auto_offset_reset!r}"
            )
        for name in ("session_timeout_ms", "heartbeat_interval_ms", "max_poll_interval_ms"):
            value = getattr(self, name)
            if value is not None:
                _positive(f"ConsumerOptions.{name}", value)
        if self.fetch_max_wait_ms is not None and self.fetch_max_wait_ms < 0:
            raise TransportConfigError(
                f"ConsumerOptions.fetch_max_wait_ms must be >= 0: {self.fetch_max_wait_ms}"
            )


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise TransportConfigError(f"{name} must be > 0: {value}")
