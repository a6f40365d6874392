"""Helpers for the transport tests: waits with deadlines (never bare sleeps) and test options."""

from __future__ import annotations

import headwater.transport as hwt
from tests.kit.consuming import consume_until
from tests.kit.waiting import wait_until as wait_until

#: Consumers in tests: a short session (brokers may delay a group's first join by up to half of
#: it) and a short fetch long-poll, so waits end quickly; still within Kafka's 6 s minimum.
FAST_GROUP = hwt.ConsumerOptions(session_timeout_ms=6000, fetch_max_wait_ms=100)


def consume_n(consumer: hwt.Consumer, n: int, deadline_s: float = 30.0) -> list[hwt.Record]:
    """Consume until `n` records arrived (fail after `deadline_s`); returns exactly those read
    (it never asks for more, so the consumer's position is just past them)."""
    return consume_until(
        lambda got: consumer.consume(max_records=n - len(got), timeout_s=0.2),
        lambda got: len(got) >= n,
        deadline_s,
        f"{n} records",
    )
