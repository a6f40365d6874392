"""Hand events to the broker and await its acknowledgement from asyncio.

The collector answers 2xx only after the broker acknowledged every event of the request
(`acks=all`, idempotent producer). librdkafka reports deliveries from `poll()`, which a daemon
thread calls continuously; the transport reports once per request's group of records there, which
wakes the event loop once when the request is complete. A request whose events are not all
acknowledged within `ack_timeout_s`, or that arrives while the broker is unreachable, fails with
`BrokerUnavailable`: the collector answers 503 with Retry-After and the client retries (event ids
let the lake drop the duplicates a retry may create).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from headwater import transport


class BrokerUnavailable(Exception):
    """The broker did not acknowledge in time, or refused; retrying later helps."""

    retriable = True


#: What the collector produces: (topic, value, key, headers), the transport's cheap group record.
OutgoingRecord = transport.GroupRecord


class Acknowledgement:
    """Completes when the broker acknowledged a request's records; fails on the first error.

    The transport reports once per group, on the poller thread (the one calling `poll()`), so the
    event loop is woken once per request, not once per event.
    """

    __slots__ = ("_future", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._future: asyncio.Future[None] = loop.create_future()

    def completed(self, error: transport.DeliveryError | None) -> None:
        """The transport's `on_complete`; runs on the poller thread."""
        self._loop.call_soon_threadsafe(self._settle, error)

    def _settle(self, error: transport.DeliveryError | None) -> None:
        if self._future.done():
            return
        if error is None:
            self._future.set_result(None)
        else:
            self._future.set_exception(BrokerUnavailable(str(error)))

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
    """One producer shared by every request of a collector process."""

    def __init__(
        self,
        broker: str,
        *,
        linger_ms: float = 2.0,
        message_timeout_ms: int = 10_000,
        queue_max_messages: int = 1_000_000,
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
        self._stop = threading.Event()
        self._poller = threading.Thread(
            target=self._poll_forever, name="delivery-poller", daemon=True
        )
        self._poller.start()

    def _poll_forever(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    def send(self, records: Sequence[OutgoingRecord]) -> Acknowledgement:
        """Queue records; the returned acknowledgement completes when the broker has them all."""
        ack = Acknowledgement(asyncio.get_running_loop())
        try:
            self._producer.produce_group(records, ack.completed)
        except transport.TransportError as exc:
            raise BrokerUnavailable(str(exc)) from None
        return ack

    def close(self, timeout_s: float = 10.0) -> int:
        """Deliver what is queued (up to timeout_s), stop polling; returns what was left."""
        left = self._producer.flush(timeout_s)
        self._stop.set()
        self._poller.join(2)
        self._producer.close(0)
        self._transport.close()
        return left
