"""Helpers for the transport tests: waits with deadlines (never bare sleeps) and test options."""

from __future__ import annotations

import time

import headwater.transport as hwt
from tests.kit.waiting import wait_until as wait_until

#: Consumers in tests: a short session (brokers may delay a group's first join by up to half of
#: it) and a short fetch long-poll, so waits end quickly; still within Kafka's 6 s minimum.
FAST_GROUP = hwt.ConsumerOptions(session_timeout_ms=6000, fetch_max_wait_ms=100)


def consume_n(consumer: hwt.Consumer, n: int, deadline_s: float = 30.0) -> list[hwt.Record]:
    """Consume until `n` records arrived (fail after `deadline_s`); returns exactly those read."""
    records: list[hwt.Record] = []
    end = time.monotonic() + deadline_s
    while len(records) < n:
        if time.monotonic() > end:
            raise AssertionError(f"got {len(records)} of {n} records within {deadline_s}s")
        records.extend(consumer.consume(max_records=n - len(records), timeout_s=0.2))
    return records
