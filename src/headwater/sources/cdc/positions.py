"""Source positions in the compacted topic `_headwater.positions`, keyed by source name.

A record's value is JSON: `{"source", "connector", "position": {...}, "ts_ms"}` where position holds
what the database resumes from (PostgreSQL: `lsn`, `txId`; MySQL/MariaDB: `gtid`, `file`, `pos`).
A position is written only after the broker acknowledged every change it covers, so the last
record of a source is always a safe place to resume (changes after it may be sent twice, none is
lost). Reading takes the last record per key from the start of the topic; compaction keeps that
cheap. A missing topic means no positions yet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from headwater import transport
from headwater.logs import log_event

TOPIC = "_headwater.positions"
log = logging.getLogger("headwater.cdc.positions")

Position = dict[str, Any]


def ensure_topic(admin: transport.Admin) -> None:
    """Create the compacted positions topic when it does not exist."""
    admin.create_topics(
        [transport.TopicSpec(TOPIC, partitions=1, config={"cleanup.policy": "compact"})],
        exist_ok=True,
    )


def load(conn: transport.Transport, source: str, timeout_s: float = 10.0) -> Position | None:
    """The last stored position of `source`, or None when it never stored one."""
    with conn.admin() as admin:
        topics = admin.list_topics(timeout_s)
    if TOPIC not in topics:
        return None
    key = source.encode()
    found: Position | None = None
    options = transport.ConsumerOptions(fetch_max_wait_ms=100)
    with conn.consumer(f"headwater-positions-{source}", options) as consumer:
        parts = [
            transport.TopicPartition(TOPIC, p, transport.EARLIEST) for p in range(topics[TOPIC])
        ]
        consumer.assign(parts)
        deadline = time.monotonic() + timeout_s
        ends = {p.partition: consumer.watermarks(p, timeout_s)[1] for p in parts}
        done = {p for p, high in ends.items() if high == 0}
        while len(done) < len(parts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {TOPIC} took more than {timeout_s}s")
            for record in consumer.consume(1000, 0.2):
                if record.key == key and record.value is not None:
                    found = orjson.loads(record.value)["position"]
                if record.offset + 1 >= ends[record.partition]:
                    done.add(record.partition)
    log_event(log, "position_loaded", source=source, position=found)
    return found


class PositionWriter:
    """Produces position records; `on_stored` runs once the broker acknowledged one."""

    def __init__(self, producer: transport.Producer, source: str, connector: str) -> None:
        self._producer = producer
        self._source = source
        self._key = source.encode()
        self._connector = connector

    def save(self, position: Position, on_stored: Callable[[Position], None]) -> None:
        value = orjson.dumps(
            {
                "source": self._source,
                "connector": self._connector,
                "position": position,
                "ts_ms": int(time.time() * 1000),
            }
        )

        def delivered(delivery: transport.Delivery) -> None:
            if delivery.ok:
                on_stored(position)
            else:
                log_event(log, "position_not_stored", logging.WARNING, error=str(delivery.error))

        self._producer.produce(TOPIC, value, key=self._key, on_delivery=delivered)
