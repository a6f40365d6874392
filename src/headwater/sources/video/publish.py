"""Producing video records from asyncio and awaiting the broker's acknowledgement.

One producer serves every stream of the process. `send` queues a group of records
(`Producer.produce_group`: one report per group) and returns a future completed from `poll()`,
which the event loop calls while any group is outstanding; there is no poller thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from headwater import transport


class PublishError(Exception):
    """The broker refused or did not acknowledge; retrying later helps."""

    retriable = True


class Publisher:
    """Queues record groups and resolves their acknowledgements on the event loop."""

    def __init__(self, conn: transport.Transport, poll_interval_s: float = 0.002) -> None:
        self._producer = conn.producer(
            transport.ProducerOptions(linger_ms=2.0, message_timeout_ms=30_000)
        )
        self._poll_interval_s = poll_interval_s
        self._in_flight = 0
        self._polling: asyncio.TimerHandle | None = None

    async def send(self, records: Sequence[transport.GroupRecord], timeout_s: float = 60.0) -> None:
        """Return when the broker acknowledged every record; raise `PublishError` otherwise."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def on_complete(error: transport.DeliveryError | None) -> None:
            self._in_flight -= 1
            if future.done():
                return
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(PublishError(str(error)))

        self._in_flight += 1
        try:
            self._producer.produce_group(records, on_complete)
        except transport.TransportError as exc:
            self._in_flight -= 1
            raise PublishError(str(exc)) from None
        if self._polling is None:
            self._polling = loop.call_later(self._poll_interval_s, self._poll, loop)
        try:
            await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise PublishError(f"not acknowledged within {timeout_s:g}s") from None

    def _poll(self, loop: asyncio.AbstractEventLoop) -> None:
        self._polling = None
        self._producer.poll(0)
        if self._in_flight > 0:
            self._polling = loop.call_later(self._poll_interval_s, self._poll, loop)

    def close(self, timeout_s: float = 10.0) -> int:
        if self._polling is not None:
            self._polling.cancel()
            self._polling = None
        return self._producer.close(timeout_s)
