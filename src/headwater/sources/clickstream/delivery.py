"""Hand events to the broker and await its acknowledgement from asyncio.

The collector answers 2xx only after the broker acknowledged every event of the request
(`acks=all`, idempotent producer). librdkafka reports deliveries from `poll()`, which the event
loop calls while requests wait; the transport reports once per request's group of records, which
resumes the request. A request whose events are not all acknowledged within `ack_timeout_s`, or
that arrives while the broker is unreachable, fails with `BrokerUnavailable`: the collector
answers 503 with Retry-After and the client retries (event ids let the lake drop the duplicates a
retry may create).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from headwater import transport
from headwater.logs import log_event

logger = logging.getLogger("headwater.collector")


class BrokerUnavailable(Exception):
    """The broker did not acknowledge in time, or refused; retrying later helps."""

    retriable = True


#: What the collector produces: (topic, value, key, headers), the transport's cheap group record.
OutgoingRecord = transport.GroupRecord


class Acknowledgement:
    """Completes when the broker acknowledged a request's records; fails on the first error.

    The transport reports once per group, from `poll()`, which only the event loop calls: the
    waiting request is resumed directly, with no thread hand-off.
    """

    __slots__ = ("_future", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._future: asyncio.Future[None] = loop.create_future()

    def completed(self, error: transport.DeliveryError | None) -> None:
        """The transport's `on_complete` (on the event loop's thread)."""
        if self._future.done():
            return
        if error is None:
            self._future.set_result(None)
        else:
            self._future.set_exception(BrokerUnavailable(str(error)))
            self._future.exception()  # retrieved: with --answer-on-enqueue nobody awaits it

    async def wait(self, timeout_s: float) -> None:
        """Until acknowledged; a timer (not `wait_for`, which costs a task per request) fails
        the wait after `timeout_s`."""
        timer = self._loop.call_later(timeout_s, self._time_out, timeout_s)
        try:
            await self._future
        finally:
            timer.cancel()

    def _time_out(self, timeout_s: float) -> None:
        if not self._future.done():
            self._future.set_exception(
                BrokerUnavailable(f"the broker did not acknowledge within {timeout_s:g}s")
            )


class EventSink:
    """One producer shared by every request of a collector process.

    Delivery reports are served by `poll(0)` from the event loop, every `poll_interval_s` while
    any request awaits its acknowledgement (and not at all when idle): no poller thread, no GIL
    hand-off and no wake-up pipe write per request.
    """

    def __init__(
        self,
        broker: str,
        *,
        linger_ms: float = 2.0,
        message_timeout_ms: int = 10_000,
        queue_max_messages: int = 1_000_000,
        poll_interval_s: float = 0.001,
    ) -> None:
        self._transport = transport.connect(broker, client_id="headwater-collector")
        self._producer = self._transport.producer(
            transport.ProducerOptions(
                linger_ms=linger_ms,
                message_timeout_ms=message_timeout_ms,
                queue_max_messages=queue_max_messages,
                enqueue_timeout_s=0.5,
                extra={"batch.num.messages": 10_000, "batch.size": 1_000_000},
            )
        )
        self._poll_interval_s = poll_interval_s
        self._in_flight = 0  # groups queued and not yet reported
        self._polling: asyncio.TimerHandle | None = None

    def send(self, records: Sequence[OutgoingRecord]) -> Acknowledgement:
        """Queue records; the returned acknowledgement completes when the broker has them all."""
        loop = asyncio.get_running_loop()
        ack = Acknowledgement(loop)

        def on_complete(error: transport.DeliveryError | None) -> None:
            self._in_flight -= 1
            if error is not None:
                log_event(
                    logger,
                    "delivery_failed",
                    logging.WARNING,
                    records=len(records),
                    reason=str(error),
                )
            ack.completed(error)

        self._in_flight += 1
        try:
            self._producer.produce_group(records, on_complete)
        except transport.TransportError as exc:
            self._in_flight -= 1
            raise BrokerUnavailable(str(exc)) from None
        if self._polling is None:
            self._polling = loop.call_later(self._poll_interval_s, self._poll, loop)
        return ack

    def _poll(self, loop: asyncio.AbstractEventLoop) -> None:
        self._polling = None
        self._producer.poll(0)
        if self._in_flight > 0:
            self._polling = loop.call_later(self._poll_interval_s, self._poll, loop)

    def close(self, timeout_s: float = 10.0) -> int:
        """Deliver what is queued (up to timeout_s); returns what was left."""
        if self._polling is not None:
            self._polling.cancel()
            self._polling = None
        left = self._producer.flush(timeout_s)
        self._producer.close(0)
        self._transport.close()
        return left
