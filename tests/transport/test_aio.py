"""`AsyncGroupProducer` against a real broker: one awaitable acknowledgement per group."""

from __future__ import annotations

import asyncio

import pytest

import headwater.transport as hwt
from headwater.transport.aio import AsyncGroupProducer
from tests.kit.waiting import wait_until_async


async def test_groups_are_acknowledged_and_polling_stops_when_idle(bootstrap: str) -> None:
    conn = hwt.connect(bootstrap)
    producer = AsyncGroupProducer(conn.producer())
    try:
        groups = [
            [("aio-test", b"%d-%d" % (g, i), b"k%d" % i, [("g", b"%d" % g)]) for i in range(100)]
            for g in range(5)
        ]
        futures = [producer.send_group(group) for group in groups]
        assert producer.in_flight == 5
        await asyncio.wait_for(asyncio.gather(*futures), 30)
        assert producer.in_flight == 0
        # Idle: the poll timer stops instead of re-arming itself.
        await wait_until_async(lambda: producer._polling is None, 10, "polling to stop when idle")
    finally:
        assert producer.close(10) == 0
        conn.close()


async def test_a_group_the_broker_never_acknowledges_fails_its_future(dead_bootstrap: str) -> None:
    conn = hwt.connect(dead_bootstrap)
    producer = AsyncGroupProducer(conn.producer(hwt.ProducerOptions(message_timeout_ms=500)))
    try:
        future = producer.send_group([("events", b"lost", None, None)])
        with pytest.raises(hwt.DeliveryError) as caught:
            await asyncio.wait_for(future, 15)
        assert caught.value.retriable
        assert producer.in_flight == 0
    finally:
        producer.close(0.1)
        conn.close()
