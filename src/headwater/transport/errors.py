"""Errors raised by `headwater.transport`, typed by who is at fault and whether a retry helps.

```
TransportError(retriable)     anything the transport raises; `retriable` says if retrying helps
├── TransportConfigError      our caller's fault: bad --broker value, bad option, unsupported
│                             backend (Kinesis, for now). Never retriable: fix the config.
├── BrokerUnavailableError    nobody answers at the bootstrap address, or every broker is down.
│                             Always retriable: the same call may work once the broker is back.
├── TopicError                the topic is missing, already exists, or its spec is refused.
│                             Retriable only when Kafka says so (e.g. leader not yet elected).
├── DeliveryError             one record was not stored: carries the Kafka error name and code,
│                             and the topic/partition when known. Retriable per Kafka's verdict
│                             (a timed-out record may be produced again; a too-large one not).
│   └── GroupDeliveryError    some records of a `produce_group` were not stored: every failed
│                             record with its own error, and how many were stored.
├── CommitError               offsets were not committed (e.g. the group rebalanced meanwhile).
│                             Not retriable as is: re-read from the committed offsets.
└── QueueFullError            the producer's local queue stayed full for the whole
                              `enqueue_timeout_s`. Retriable: the broker is slow, not wrong.
```

Rule: `confluent_kafka.KafkaError` / `KafkaException` never cross the package boundary; the
backend translates them into this tree (`headwater.transport.kafka.errors.translate`), keeping the
Kafka error name and code on the exception for logs and for tests.
"""

from __future__ import annotations


class TransportError(Exception):
    """Base of every transport error; `retriable` says whether the same call may succeed later."""

    retriable_default: bool = False

    def __init__(
        self,
        message: str,
        *,
        retriable: bool | None = None,
        name: str | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retriable = self.retriable_default if retriable is None else retriable
        self.name = name  # Kafka error name, e.g. "_MSG_TIMED_OUT" or "UNKNOWN_TOPIC_OR_PART"
        self.code = code  # Kafka error code (librdkafka's negative codes are local errors)

    def __str__(self) -> str:
        if self.name is None:
            return self.message
        return f"{self.message} [{self.name} ({self.code})]"


class TransportConfigError(TransportError, ValueError):
    """The caller's configuration is wrong or unsupported; retrying the same call never helps."""

    def __init__(self, message: str, *, name: str | None = None, code: int | None = None) -> None:
        super().__init__(message, retriable=False, name=name, code=code)


class BrokerUnavailableError(TransportError):
    """No broker answered within the deadline; retry once it is back."""

    def __init__(self, message: str, *, name: str | None = None, code: int | None = None) -> None:
        super().__init__(message, retriable=True, name=name, code=code)


class TopicError(TransportError):
    """A topic-level refusal: unknown topic, topic exists, invalid partitions or config."""

    def __init__(
        self,
        message: str,
        *,
        topic: str | None = None,
        retriable: bool = False,
        name: str | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message, retriable=retriable, name=name, code=code)
        self.topic = topic


class DeliveryError(TransportError):
    """One record was not stored by the broker (or was refused before leaving this process)."""

    def __init__(
        self,
        message: str,
        *,
        name: str,
        code: int,
        retriable: bool,
        topic: str | None = None,
        partition: int | None = None,
    ) -> None:
        super().__init__(message, retriable=retriable, name=name, code=code)
        self.topic = topic
        self.partition = partition


#: A record of `produce_group` as it failed: (topic, value, key, headers) and its error.
FailedRecord = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]] | None]


class GroupDeliveryError(DeliveryError):
    """Some records of a group were not stored; reported once, after every record's outcome.

    Message, name, code and retriability are the first failure's; `failures` lists each failed
    record (as produced, so a caller can dead-letter it) with its own error; `stored` counts the
    records the broker acknowledged. Retriable only if every failure is."""

    def __init__(self, failures: list[tuple[FailedRecord, DeliveryError]], stored: int) -> None:
        first = failures[0][1]
        super().__init__(
            first.message,
            name=first.name or "_FAIL",
            code=first.code if first.code is not None else -1,
            retriable=all(error.retriable for _, error in failures),
            topic=first.topic,
            partition=first.partition,
        )
        self.failures = failures
        self.stored = stored


class CommitError(TransportError):
    """Offsets were not committed; the records since the last commit will be delivered again."""


class QueueFullError(TransportError):
    """The local producer queue stayed full past the enqueue deadline."""

    retriable_default = True
