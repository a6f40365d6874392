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
from headwater.transport.aio import AsyncGroupProducer

logger = logging.getLogger("headwater.collector")


class BrokerUnavailable(Exception):
    """The broker did not acknowledge in time, or refused; retrying later helps."""

    retriable = True


#: What the collector produces: (topic, value, key, headers), the transport's cheap group record.
OutgoingRecord = transport.GroupRecord


class Acknowledgement:
    """A request's pending acknowledgement; `wait` raises `BrokerUnavailable` on failure."""

    __slots__ = ("_future",)

    def __init__(self, future: asyncio.Future[None]) -> None:
        self._future = future

    async def wait(self, timeout_s: float) -> None:
        """Until acknowledged; a timer (not `wait_for`, which costs a task per request) fails
        the wait after `timeout_s`."""
        loop = self._future.get_loop()
        timer = loop.call_later(timeout_s, self._time_out, timeout_s)
        try:
            await self._future
        except transport.DeliveryError as exc:
            raise BrokerUnavailable(str(exc)) from None
        finally:
            timer.cancel()

    def _time_out(self, timeout_s: float) -> None:
        if not self._future.done():
            self._future.set_exception(
                BrokerUnavailable(f"the broker did not acknowledge within {timeout_s:g}s")
            )


class EventSink:
    """One producer shared by every request of a collector process (see `transport.aio`)."""

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
        producer = self._transport.producer(
            transport.ProducerOptions(
                linger_ms=linger_ms,
                message_timeout_ms=message_timeout_ms,
                queue_max_messages=queue_max_messages,
                enqueue_timeout_s=0.5,
                extra={"batch.num.messages": 10_000, "batch.size": 1_000_000},
            )
        )
        self._producer = AsyncGroupProducer(producer, poll_interval_s)

    def send(self, records: Sequence[OutgoingRecord]) -> Acknowledgement:
        """Queue records; the returned acknowledgement completes when the broker has them all."""
        try:
            future = self._producer.send_group(records)
        except transport.TransportError as exc:
            raise BrokerUnavailable(str(exc)) from None
        future.add_done_callback(_log_failure)
        return Acknowledgement(future)

    def close(self, timeout_s: float = 10.0) -> int:
        """Deliver what is queued (up to timeout_s); returns what was left."""
        left = self._producer.close(timeout_s)
        self._transport.close()
        return left


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log_event(logger, "delivery_failed", logging.WARNING, reason=str(future.exception()))
