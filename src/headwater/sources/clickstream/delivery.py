"""Hand events to the broker and await its acknowledgement from asyncio.

The collector answers 2xx only after the broker acknowledged every event of the request
(`acks=all`, idempotent producer). librdkafka reports deliveries from `poll()`, which a daemon
thread calls continuously; the reports count down the request's `Acknowledgement` there, which
wakes the event loop once when the request is complete. A request whose events are not all
acknowledged within `ack_timeout_s`, or that arrives while the broker is unreachable, fails with
`BrokerUnavailable`: the collector answers 503 with Retry-After and the client retries (event ids
let the lake drop the duplicates a retry may create).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from headwater import transport


class BrokerUnavailable(Exception):
    """The broker did not acknowledge in time, or refused; retrying later helps."""

    retriable = True


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    topic: str
    value: bytes
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]


class Acknowledgement:
    """Completes when `count` deliveries were reported; fails on the first error.

    Delivery reports arrive on the poller thread only (the one thread calling `poll()`), so the
    count is kept there and the event loop is woken once per request, not once per event.
    """

    __slots__ = ("_failed", "_future", "_loop", "_remaining")

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self._loop = loop
        self._future: asyncio.Future[None] = loop.create_future()
        self._remaining = count
        self._failed = False
        if count == 0:
            self._future.set_result(None)

    def delivered(self, error: str | None) -> None:
        """Called on the poller thread for each report."""
        if self._failed or self._remaining <= 0:
            return
        if error is not None:
            self._failed = True
            self._loop.call_soon_threadsafe(self._settle, BrokerUnavailable(error))
            return
        self._remaining -= 1
        if self._remaining == 0:
            self._loop.call_soon_threadsafe(self._settle, None)

    def _settle(self, error: BrokerUnavailable | None) -> None:
        if self._future.done():
            return
        if error is None:
            self._future.set_result(None)
        else:
            self._future.set_exception(error)

    async def wait(self, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(self._future), timeout_s)
        except TimeoutError:
            raise BrokerUnavailable(
                f"the broker did not acknowledge within {timeout_s:g}s"
            ) from None


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
        ack = Acknowledgement(asyncio.get_running_loop(), len(records))

        def on_delivery(delivery: transport.Delivery) -> None:
            ack.delivered(None if delivery.error is None else str(delivery.error))

        try:
            for r in records:
                self._producer.produce(
                    r.topic, r.value, key=r.key, headers=r.headers, on_delivery=on_delivery
                )
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
