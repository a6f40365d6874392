"""Hand a request's records to the broker and tell the collector what became of them.

Promises, by outcome (`Outcome`), and the reason for each:

- stored: the broker acknowledged every record (`acks=all`, idempotent producer). Answer 200.
- pending: the answer's wait (`ack_timeout_s`) ran out with records still inside the producer,
  queued or in flight. They stay there and librdkafka keeps retrying them under the idempotent
  producer's sequence numbers, so the broker stores each exactly once, for up to
  `delivery_timeout_s` (far longer than the wait). Answer 202: the client must not retry (a retry
  would be a second copy). Lost only if the collector stops, or the broker stays away past
  `delivery_timeout_s`; both are logged (`collector_stopped` undelivered, `delivery_failed`).
- refused: the broker or the client refused records for good (too large, invalid, not
  authorised, no such topic, not serialisable). Retrying cannot help: each refused event goes to
  the dead-letter topic with the reason in its `reason` header, and the answer is 413/400 (the
  event's fault) or 500 (the collector's configuration), never 503.
- unavailable (`BrokerUnavailable`, raised by `send`): nothing was queued, because the producer
  knows the broker is unreachable, its queue has no room for the whole request, or the cluster
  cannot take `acks=all` writes to a partition of the collector's topics (no leader, or fewer
  in-sync replicas than `min.insync.replicas`: `writability.py`). Answer 503 with Retry-After:
  nothing is stored and nothing will be, so the client's retry is the only copy.
- uncertain: records failed with a retriable error after being queued (the delivery timeout ran
  out, or the producer was purged at shutdown). librdkafka cannot tell from here whether such a
  record reached the log (its message status is not exposed to Python; a request timed out in
  flight and one that never left both report `_MSG_TIMED_OUT`), so neither 503 nor 2xx is true:
  answer 500 with the reason and log `delivery_uncertain`; the lake drops a retry's duplicate by
  event id.

Why not a delivery timeout under the wait, answering 503 on `_MSG_TIMED_OUT`: that is exactly the
case above that cannot tell "never sent" from "sent and maybe written" (a broker stalled past the
timeout writes the in-flight batch when it resumes), which stored every event of a 50-event batch
twice. While the broker is unreachable, requests get 503 at once and a background probe (a
Metadata request in a worker thread, every `probe_interval_s`) notices its return. Likewise
while the cluster answers but cannot store: an answer's wait running out or a failed delivery
starts a background check of the topics' partitions (`WritabilityWatch`), and while it finds one
unwritable new requests get 503 at once; requests queued before keep their 200/202.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from headwater import transport
from headwater.logs import log_event
from headwater.sources.clickstream.writability import WritabilityWatch
from headwater.transport.aio import AsyncGroupProducer

logger = logging.getLogger("headwater.collector")

#: What the collector produces: (topic, value, key, headers), the transport's cheap group record.
OutgoingRecord = transport.GroupRecord
Failure = tuple[OutgoingRecord, transport.DeliveryError]

#: Refusals caused by the event itself (answered 413/400); any other permanent refusal is the
#: collector's configuration (topic missing, not authorised: answered 500).
TOO_LARGE = frozenset({"MSG_SIZE_TOO_LARGE", "_MSG_SIZE_TOO_LARGE", "RECORD_LIST_TOO_LARGE"})
INVALID_EVENT = frozenset({"INVALID_RECORD", "CORRUPT_MESSAGE", "_INVALID_TYPE", "_INVALID_ARG"})


class BrokerUnavailable(Exception):
    """Nothing of the request was queued (broker unreachable, queue full); retrying later helps."""

    retriable = True


@dataclass(slots=True)
class Outcome:
    """What became of a request's records by the time of the answer."""

    pending: bool = False  # the wait ran out; the producer still holds them (exactly once)
    refused: list[Failure] = field(default_factory=list)  # permanent: dead-lettered
    uncertain: list[Failure] = field(default_factory=list)  # retriable, maybe written

    @property
    def stored(self) -> bool:
        return not (self.pending or self.refused or self.uncertain)


STORED = Outcome()
PENDING = Outcome(pending=True)


class Acknowledgement:
    """A request's pending acknowledgement."""

    __slots__ = ("_future", "_overdue")

    def __init__(
        self, future: asyncio.Future[None], overdue: Callable[[], None] | None = None
    ) -> None:
        self._future = future
        self._overdue = overdue  # told when the wait runs out (the sink checks the cluster)

    async def wait(self, timeout_s: float) -> Outcome:
        """The outcome once every record has one, or `PENDING` after `timeout_s` (a timer and a
        done-callback, not `wait_for`, which costs a task per request). Never cancels the send."""
        future = self._future
        if not future.done():
            loop = future.get_loop()
            waiter: asyncio.Future[None] = loop.create_future()

            def wake(_: object = None) -> None:
                if not waiter.done():
                    waiter.set_result(None)

            timer = loop.call_later(timeout_s, wake)
            future.add_done_callback(wake)
            try:
                await waiter
            finally:
                timer.cancel()
                future.remove_done_callback(wake)
            if not future.done():
                if self._overdue is not None:
                    self._overdue()
                return PENDING
        return _outcome(future)


class EventSink:
    """One producer shared by every request of a collector process (see `transport.aio`)."""

    def __init__(
        self,
        broker: str,
        *,
        invalid_topic: str,
        events_topic: str | None = None,
        linger_ms: float = 2.0,
        delivery_timeout_s: float = 120.0,
        queue_max_messages: int = 100_000,
        poll_interval_s: float = 0.001,
        probe_interval_s: float = 1.0,
    ) -> None:
        self._invalid_topic = invalid_topic
        self._probe_interval_s = probe_interval_s
        self._probing = False
        self._transport = transport.connect(broker, client_id="headwater-collector")
        producer = self._transport.producer(
            transport.ProducerOptions(
                linger_ms=linger_ms,
                message_timeout_ms=int(delivery_timeout_s * 1000),
                queue_max_messages=queue_max_messages,
                enqueue_timeout_s=0,  # a full queue is a 503 at once, never a wait on the loop
                extra={
                    "batch.num.messages": 10_000,
                    "batch.size": 1_000_000,
                    # the message count is the bound (checked whole per request): never bytes
                    "queue.buffering.max.kbytes": 2_147_483_647,
                },
            )
        )
        self._producer = AsyncGroupProducer(producer, poll_interval_s)
        topics = [invalid_topic] if events_topic is None else [events_topic, invalid_topic]
        self._writability = WritabilityWatch(
            self._transport.admin(), topics, interval_s=probe_interval_s
        )

    def start(self) -> None:
        """Begin what runs on the event loop beside the requests (call from the loop)."""
        self._writability.start()

    @property
    def unwritable(self) -> str | None:
        """Why the cluster cannot take the collector's writes now (new requests get 503)."""
        return self._writability.blocked

    def send(self, records: Sequence[OutgoingRecord]) -> Acknowledgement:
        """Queue records whole, or raise `BrokerUnavailable` with nothing queued."""
        reason = self._producer.unreachable()
        if reason is not None:
            self._start_probe()
            raise BrokerUnavailable(reason)
        reason = self._writability.blocked
        if reason is not None:
            raise BrokerUnavailable(reason)
        try:
            future = self._producer.send_group(records)
        except transport.TransportError as exc:
            raise BrokerUnavailable(str(exc)) from None
        future.add_done_callback(self._settle)
        return Acknowledgement(future, self._writability.suspect)

    def close(self, timeout_s: float = 10.0) -> int:
        """Deliver what is queued (up to timeout_s); returns what was left."""
        left = self._producer.close(timeout_s)
        self._writability.close()
        self._transport.close()
        return left

    def _settle(self, future: asyncio.Future[None]) -> None:
        """Whenever a group completes (before or after the answer): dead-letter what was refused
        for good, log what may be lost."""
        outcome = _outcome(future)
        if not outcome.stored:
            self._writability.suspect()
        if outcome.refused:
            dead: list[OutgoingRecord] = []
            for record, error in outcome.refused:
                letter = _dead_letter(record, error, self._invalid_topic)
                if letter is not None:
                    dead.append(letter)
            if dead:
                try:
                    self._producer.send_group(dead).add_done_callback(_log_dead_letter_failure)
                except transport.TransportError as exc:
                    log_event(
                        logger,
                        "dead_letter_failed",
                        logging.ERROR,
                        reason=str(exc),
                        events=len(dead),
                    )
            for _, error in outcome.refused:
                log_event(logger, "delivery_refused", logging.WARNING, reason=str(error))
        if outcome.uncertain:
            log_event(
                logger,
                "delivery_uncertain",
                logging.WARNING,
                reason=str(outcome.uncertain[0][1]),
                events=len(outcome.uncertain),
            )

    def _start_probe(self) -> None:
        if not self._probing:
            self._probing = True
            asyncio.get_running_loop().create_task(self._probe_until_reachable())

    async def _probe_until_reachable(self) -> None:
        try:
            while not await self._producer.probe(self._probe_interval_s):
                await asyncio.sleep(self._probe_interval_s)
            log_event(logger, "broker_reachable")
            self._writability.suspect()  # reachable is not yet writable (two brokers of three)
        finally:
            self._probing = False


def _outcome(future: asyncio.Future[None]) -> Outcome:
    error = None if future.cancelled() else future.exception()
    if error is None:
        return STORED
    if isinstance(error, transport.GroupDeliveryError):
        failures = error.failures
    elif isinstance(error, transport.DeliveryError):
        failures = [(("?", None, None, None), error)]
    else:
        raise error
    outcome = Outcome()
    for failure in failures:
        (outcome.uncertain if failure[1].retriable else outcome.refused).append(failure)
    return outcome


def _dead_letter(
    record: OutgoingRecord, error: transport.DeliveryError, invalid_topic: str
) -> OutgoingRecord | None:
    """The refused record as produced, its reason and original topic in headers; None for a
    refused dead letter (that one is logged, there is nowhere further to put it)."""
    topic, value, key, headers = record
    if topic == invalid_topic:
        log_event(logger, "dead_letter_refused", logging.ERROR, reason=str(error))
        return None
    reason = f"the broker refused the event: {error}"
    extra = [("reason", reason.encode()), ("topic", topic.encode())]
    return (invalid_topic, value, key, [*(headers or ()), *extra])


def _log_dead_letter_failure(future: asyncio.Future[None]) -> None:
    error = None if future.cancelled() else future.exception()
    if error is not None:
        log_event(logger, "dead_letter_failed", logging.ERROR, reason=str(error))
