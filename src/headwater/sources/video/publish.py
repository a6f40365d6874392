"""Producing video records from asyncio and awaiting the broker's acknowledgement.

One producer serves every stream of the process. `send` queues a group of records and waits for
its one acknowledgement (`transport.aio.AsyncGroupProducer`: polled from the event loop, no
poller thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from headwater import transport
from headwater.transport.aio import AsyncGroupProducer


class PublishError(Exception):
    """The broker refused or did not acknowledge; retrying later helps."""

    retriable = True


class Publisher:
    """Queues record groups and awaits their acknowledgements on the event loop."""

    def __init__(self, conn: transport.Transport, poll_interval_s: float = 0.002) -> None:
        producer = conn.producer(
            transport.ProducerOptions(linger_ms=2.0, message_timeout_ms=30_000)
        )
        self._producer = AsyncGroupProducer(producer, poll_interval_s)

    async def send(self, records: Sequence[transport.GroupRecord], timeout_s: float = 60.0) -> None:
        """Return when the broker acknowledged every record; raise `PublishError` otherwise."""
        try:
            future = self._producer.send_group(records)
        except transport.TransportError as exc:
            raise PublishError(str(exc)) from None
        try:
            await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise PublishError(f"not acknowledged within {timeout_s:g}s") from None
        except transport.DeliveryError as exc:
            raise PublishError(str(exc)) from None

    def close(self, timeout_s: float = 10.0) -> int:
        return self._producer.close(timeout_s)
