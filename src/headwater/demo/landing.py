"""Has the lake caught up with the broker? Compares each topic's end offsets with the offsets the
sink's Delta commits record (their `txn` versions), the same bookkeeping that makes it exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import headwater.transport as hwt
from headwater.lake.tables import PARTITION_COLUMN
from headwater.lake.writer import LakeTable


def behind(
    transport: hwt.Transport, lake: Path, group: str, tables: Mapping[str, tuple[str, ...]]
) -> dict[str, int]:
    """Per topic, records in the broker that are not yet in every one of its lake tables."""
    consumer = transport.consumer(f"{group}-landing-check")
    try:
        out = {}
        partitions = transport.admin().list_topics()
        for topic, names in tables.items():
            count = partitions.get(topic, 0)
            ends = {p: consumer.watermarks(hwt.TopicPartition(topic, p))[1] for p in range(count)}
            missing = 0
            for name in names:
                table = LakeTable(lake / name, PARTITION_COLUMN, group, topic)
                stored = table.stored(list(ends)) if table.load() is not None else {}
                for p, end in ends.items():
                    done = stored.get(p)
                    missing = max(missing, end - (0 if done is None else done + 1))
            out[topic] = missing
        return out
    finally:
        consumer.close()


def wait_landed(
    transport: hwt.Transport,
    lake: Path,
    group: str,
    tables: Mapping[str, tuple[str, ...]],
    timeout_s: float,
    on_progress: Callable[[int], None] | None = None,
    check: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Poll `behind` until nothing is missing or `timeout_s` passed; returns the last answer."""
    end = time.monotonic() + timeout_s
    while True:
        left = behind(transport, lake, group, tables)
        if on_progress is not None:
            on_progress(sum(left.values()))
        if not any(left.values()) or time.monotonic() > end:
            return left
        if check is not None:
            check()
        time.sleep(0.5)
