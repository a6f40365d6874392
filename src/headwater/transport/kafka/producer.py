"""The Kafka producer: librdkafka's, with delivery reports as `Delivery` objects.

Rules:
1. A record is never dropped silently. A full local queue makes `produce` serve delivery reports
   and retry (up to `enqueue_timeout_s`, then `QueueFullError`); a record the client refuses
   outright (too large, no such partition) raises `DeliveryError`; a record the broker never
   acknowledges reaches its `on_delivery` with an error, or, without a callback, is logged and
   counted in `failed`.
2. Delivery reports run inside `produce`, `poll` and `flush`, on the calling thread: a long-lived
   producer must call `poll` regularly (or `flush` before it reports success upstream).
3. A fatal client error (the idempotent producer lost its sequence) is raised by the next call;
   the producer is unusable after it and must be recreated.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import confluent_kafka as ck
from confluent_kafka import KafkaError, KafkaException

from headwater.transport.base import (
    Delivery,
    GroupRecord,
    HeadersLike,
    OnDelivery,
    OnGroupComplete,
    ProducerRecord,
)
from headwater.transport.closing import ClosesOnExit
from headwater.transport.errors import (
    DeliveryError,
    FailedRecord,
    GroupDeliveryError,
    QueueFullError,
    TransportConfigError,
    TransportError,
)
from headwater.transport.kafka.config import ClientSettings, producer_config
from headwater.transport.kafka.errors import UNREACHABLE, delivery_error, kafka_error, translate
from headwater.transport.options import ProducerOptions

log = logging.getLogger("headwater.transport")

_QUEUE_FULL_POLL_S = 0.05  # serve deliveries this long before retrying a full queue


class KafkaProducer(ClosesOnExit):
    """`headwater.transport.Producer` over confluent-kafka."""

    def __init__(self, settings: ClientSettings, options: ProducerOptions | None = None) -> None:
        self.options = options or ProducerOptions()
        self.bootstrap = settings.bootstrap_servers
        self.failed = 0  # deliveries that failed with no on_delivery to tell
        self._held = 0  # records queued and not yet reported (len() also counts client events)
        self._fatal: TransportError | None = None
        self._unreachable: KafkaError | None = None  # last "no broker" event, cleared by a success
        self._closed = False
        conf = producer_config(settings, self.options)
        conf["error_cb"] = self._on_client_error
        try:
            self._producer = ck.Producer(conf)
        except KafkaException as exc:
            raise translate(exc, "create producer") from None
        except (TypeError, ValueError) as exc:
            raise TransportConfigError(f"create producer: {exc}") from None
        self._produce = self._producer.produce
        self._default_report = functools.partial(self._report, None)

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: HeadersLike | None = None,
        partition: int | None = None,
        on_delivery: OnDelivery | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Queue one record; `on_delivery` gets its `Delivery` from a later poll/flush."""
        self._check_usable()
        report = self._default_report if on_delivery is None else functools.partial(
            self._report, on_delivery
        )  # fmt: skip
        hdrs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
        part = -1 if partition is None else partition
        ts = 0 if timestamp_ms is None else timestamp_ms
        deadline: float | None = None
        while True:
            try:
                self._produce(
                    topic, value, key, part, on_delivery=report, timestamp=ts, headers=hdrs or None
                )
                self._held += 1
                return
            except BufferError:
                deadline = self._wait_for_room(topic, deadline)
            except KafkaException as exc:
                raise delivery_error(kafka_error(exc), topic, partition) from None
            except TypeError as exc:
                raise TransportConfigError(f"produce to {topic!r}: {exc}") from None

    def produce_batch(
        self, records: Iterable[ProducerRecord], on_delivery: OnDelivery | None = None
    ) -> int:
        """Queue records in order; stops at the first refused one by raising (rule 1)."""
        count = 0
        for r in records:
            self.produce(
                r.topic, r.value, r.key, r.headers, r.partition, on_delivery, r.timestamp_ms
            )
            count += 1
        return count

    def produce_group(self, records: Sequence[GroupRecord], on_complete: OnGroupComplete) -> None:
        """Queue records that are acknowledged together; one report object counts them all.

        librdkafka calls `_GroupReport` directly for each record (no per-record `Delivery`). A
        record the client refuses outright (too large, not bytes) counts as that record's failure
        in the one report: the caller hears of every record once, after all have an outcome.
        With `enqueue_timeout_s=0` the group is queued whole or not at all: `QueueFullError` is
        raised before anything is queued when the local queue has no room for every record."""
        self._check_usable()
        if self.options.enqueue_timeout_s == 0 and (
            self._held + len(records) > self.options.queue_max_messages
        ):
            raise QueueFullError(
                f"produce {len(records)} records: local queue full "
                f"({self._held} of {self.options.queue_max_messages} records in flight "
                f"to {self.bootstrap})"
            )
        report = _GroupReport(self, len(records), on_complete)
        produce = self._produce
        for queued, record in enumerate(records):
            topic, value, key, headers = record
            deadline: float | None = None
            while True:
                try:
                    # positional: topic, value, key, partition, callback, on_delivery, ts, headers
                    produce(topic, value, key, -1, report, None, 0, headers)  # type: ignore[arg-type]
                    self._held += 1
                    break
                except BufferError:
                    try:
                        deadline = self._wait_for_room(topic, deadline)
                    except TransportError as exc:
                        if queued == 0 or not isinstance(exc, QueueFullError):
                            report.abandon()  # the caller hears of it from the exception only
                            raise
                        for rest in records[queued:]:  # the queued part goes on; the rest fails
                            report.refused(rest, _queue_full(exc, rest[0]))
                        return
                except KafkaException as exc:
                    report.refused(record, delivery_error(kafka_error(exc), topic, None))
                    break
                except TypeError as exc:
                    error = DeliveryError(
                        f"record {queued} of a group to {topic!r} not produced: {exc}",
                        name="_INVALID_TYPE",
                        code=KafkaError._INVALID_TYPE,
                        retriable=False,
                        topic=topic,
                    )
                    report.refused(record, error)
                    break

    def poll(self, timeout_s: float = 0.0) -> int:
        self._check_usable()
        served = self._producer.poll(timeout_s)
        self._raise_fatal()
        return int(served)

    def flush(self, timeout_s: float | None = None) -> int:
        """Wait until every queued record has an outcome; returns how many still lack one."""
        self._check_usable()
        remaining = self._producer.flush() if timeout_s is None else self._producer.flush(timeout_s)
        self._raise_fatal()
        return int(remaining)

    @property
    def unreachable(self) -> str | None:
        """Why no broker is reachable, if the client said so (a failed connection, every broker
        down, a request timed out) and nothing was acknowledged since; else None. Reports arrive
        from `poll`; `probe` clears a stale one."""
        err = self._unreachable
        return None if err is None else f"no broker reachable at {self.bootstrap}: {err.str()}"

    def probe(self, timeout_s: float = 1.0) -> bool:
        """Ask the cluster for its metadata; True (and `unreachable` cleared) if it answered.

        Blocks up to `timeout_s`: call it from a worker thread, never from an event loop."""
        try:
            self._producer.list_topics(timeout=timeout_s)
        except KafkaException:
            return False
        self._unreachable = None
        return True

    @property
    def in_flight(self) -> int:
        """Records queued or sent but not yet reported."""
        return 0 if self._closed else len(self._producer)

    def close(self, timeout_s: float | None = 30.0) -> int:
        """Flush for up to `timeout_s`, then close; returns how many records were left behind."""
        if self._closed:
            return 0
        try:
            remaining = self._producer.flush(-1 if timeout_s is None else timeout_s)
            if remaining:
                # Their callbacks hear of it as _PURGE_QUEUE / _PURGE_INFLIGHT failures (rule 1).
                log.warning("producer closing with %d records undelivered", remaining)
                self._producer.purge()
                self._producer.flush(0)
            close = getattr(self._producer, "close", None)  # confluent-kafka >= 2.7
            if close is not None:
                close()
        finally:
            self._closed = True
        return int(remaining)

    # -- internals --------------------------------------------------------------------------

    def _wait_for_room(self, topic: str, deadline: float | None) -> float:
        """Serve deliveries so the local queue drains; give up at the enqueue deadline."""
        now = time.monotonic()
        limit = self.options.enqueue_timeout_s
        if deadline is None:
            deadline = float("inf") if limit is None else now + limit
        elif now >= deadline:
            raise QueueFullError(
                f"produce to {topic!r}: local queue still full after {limit}s "
                f"({len(self._producer)} records in flight to {self.bootstrap})"
            )
        self._producer.poll(_QUEUE_FULL_POLL_S)
        self._raise_fatal()
        return deadline

    def _report(self, on_delivery: OnDelivery | None, err: KafkaError | None, msg: Any) -> None:
        self._held -= 1
        if err is None:
            self._unreachable = None
            if on_delivery is not None:
                on_delivery(Delivery(msg.topic(), msg.partition(), msg.offset()))
            return
        hint = None
        if self._unreachable is not None:
            hint = f"no broker reachable at {self.bootstrap} since: {self._unreachable.str()}"
        error = delivery_error(err, msg.topic(), msg.partition(), hint)
        if on_delivery is not None:
            on_delivery(Delivery(msg.topic(), msg.partition(), -1, error))
            return
        self.failed += 1
        if self.failed == 1 or self.failed % 1000 == 0:
            log.error("%s (%d failed deliveries so far)", error, self.failed)

    def _on_client_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = translate(err, "producer")
            log.error("%s", self._fatal)
        elif err.code() in UNREACHABLE:
            self._unreachable = err
            log.warning("producer: %s", err.str())
        else:
            log.warning("producer: %s [%s]", err.str(), err.name())

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    def _check_usable(self) -> None:
        if self._closed:
            raise TransportError("producer is closed")
        self._raise_fatal()


def _queue_full(exc: QueueFullError, topic: str) -> DeliveryError:
    return DeliveryError(exc.message, name="_QUEUE_FULL", code=KafkaError._QUEUE_FULL,
                         retriable=True, topic=topic)  # fmt: skip


class _GroupReport:
    """librdkafka's delivery callback for one `produce_group`: counts outcomes, reports once,
    when every record has one (never at the first error: the others may still be stored)."""

    __slots__ = ("_failures", "_on_complete", "_owner", "_remaining", "_stored")

    def __init__(self, owner: KafkaProducer, count: int, on_complete: OnGroupComplete) -> None:
        self._owner = owner
        self._remaining = count
        self._stored = 0
        self._failures: list[tuple[FailedRecord, DeliveryError]] = []
        self._on_complete: OnGroupComplete | None = on_complete
        if count == 0:
            self._finish()

    def __call__(self, err: KafkaError | None, msg: Any) -> None:
        self._owner._held -= 1
        if err is None:
            self._owner._unreachable = None
            self._stored += 1
        else:
            hint = None
            if self._owner._unreachable is not None:
                hint = f"no broker reachable at {self._owner.bootstrap} since: " + (
                    self._owner._unreachable.str()
                )
            record = (msg.topic(), msg.value(), msg.key(), msg.headers())
            self._failures.append((record, delivery_error(err, msg.topic(), msg.partition(), hint)))
        self._count_one()

    def refused(self, record: FailedRecord, error: DeliveryError) -> None:
        """A record the client refused before queueing it: its outcome, at once."""
        self._failures.append((record, error))
        self._count_one()

    def abandon(self) -> None:
        """The group could not be queued whole (the caller gets the exception): no report."""
        self._on_complete = None

    def _count_one(self) -> None:
        self._remaining -= 1
        if self._remaining == 0:
            self._finish()

    def _finish(self) -> None:
        on_complete, self._on_complete = self._on_complete, None
        if on_complete is not None:
            failures = self._failures
            on_complete(GroupDeliveryError(failures, self._stored) if failures else None)
