"""Producing from asyncio: a group of records becomes one awaitable acknowledgement.

librdkafka reports deliveries from `poll()`. Here the event loop itself calls `poll(0)` every
`poll_interval_s` while any group is outstanding (and not at all when idle): the waiting
coroutine is resumed directly, with no poller thread, no GIL hand-off and no wake-up pipe write
per group. Shared by every asyncio component that must answer only after the broker
acknowledged (the collector's requests, the video follower's segments).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from headwater.transport.base import GroupRecord, Producer
from headwater.transport.errors import DeliveryError


class AsyncGroupProducer:
    """Wraps one `Producer` for an event loop; not thread-safe (use it from the loop only)."""

    def __init__(self, producer: Producer, poll_interval_s: float = 0.001) -> None:
        self._producer = producer
        self._poll_interval_s = poll_interval_s
        self._in_flight = 0  # groups queued and not yet reported
        self._polling: asyncio.TimerHandle | None = None

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def send_group(self, records: Sequence[GroupRecord]) -> asyncio.Future[None]:
        """Queue `records`; the future completes when every record has an outcome: stored, or
        failed with a `GroupDeliveryError` naming each failed record. A group that cannot be
        queued raises `TransportError` here, and then nothing of it was queued.

        A failed future counts as retrieved, so callers that do not await it (answer-on-enqueue)
        leave no "exception never retrieved" noise; they learn of failures from their own logs."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def on_complete(error: DeliveryError | None) -> None:
            self._in_flight -= 1
            if future.done():
                return
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
                future.exception()  # retrieved (see the docstring)

        self._in_flight += 1
        try:
            self._producer.produce_group(records, on_complete)
        except BaseException:
            self._in_flight -= 1
            raise
        if self._polling is None:
            self._polling = loop.call_later(self._poll_interval_s, self._poll, loop)
        return future

    def unreachable(self) -> str | None:
        """Why no broker is reachable (see `Producer.unreachable`), serving the client's pending
        reports first when no poll timer is running (an idle producer is not polled)."""
        if self._polling is None:
            self._producer.poll(0)
        return self._producer.unreachable

    async def probe(self, timeout_s: float = 1.0) -> bool:
        """`Producer.probe` in a worker thread: the loop goes on serving meanwhile."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._producer.probe, timeout_s)

    def _poll(self, loop: asyncio.AbstractEventLoop) -> None:
        self._polling = None
        self._producer.poll(0)
        if self._in_flight > 0:
            self._polling = loop.call_later(self._poll_interval_s, self._poll, loop)

    def close(self, timeout_s: float = 10.0) -> int:
        """Stop polling, deliver what is queued (up to `timeout_s`); returns what was left."""
        if self._polling is not None:
            self._polling.cancel()
            self._polling = None
        return self._producer.close(timeout_s)
