"""Has the lake caught up with the broker? Compares each topic's end offsets with the offsets the
sink's Delta commits record (their `txn` versions), the same bookkeeping that makes it exactly once.
With `since_ms` (the sink's `--since`), a partition the lake holds nothing of counts from its
first record at or after that time, not from offset 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import headwater.transport as hwt
from headwater.lake.tables import PARTITION_COLUMN
from headwater.lake.writer import LakeTable


class Landing:
    """The topics' partitions, a consumer for their end offsets and the lake tables, opened once
    and polled by `behind`."""

    def __init__(
        self,
        transport: hwt.Transport,
        lake: Path,
        group: str,
        tables: Mapping[str, tuple[str, ...]],
        since_ms: int | None = None,
    ) -> None:
        self.consumer = transport.consumer(f"{group}-landing-check")
        counts = transport.admin().list_topics()
        self.partitions = {topic: range(counts.get(topic, 0)) for topic in tables}
        self.firsts = {topic: self._firsts(topic, since_ms) for topic in tables}
        self.tables = {
            topic: [LakeTable(lake / name, PARTITION_COLUMN, group, topic) for name in names]
            for topic, names in tables.items()
        }

    def behind(self) -> dict[str, int]:
        """Per topic, records in the broker that are not yet in every one of its lake tables."""
        out = {}
        for topic, tables in self.tables.items():
            ends = {
                p: self.consumer.watermarks(hwt.TopicPartition(topic, p))[1]
                for p in self.partitions[topic]
            }
            missing = 0
            for table in tables:
                stored = table.stored(list(ends)) if table.load() is not None else {}
                for p, end in ends.items():
                    done = stored.get(p)
                    first = self.firsts[topic].get(p, 0)
                    missing = max(missing, end - (first if done is None else done + 1))
            out[topic] = missing
        return out

    def _firsts(self, topic: str, since_ms: int | None) -> dict[int, int]:
        """Per partition, where the sink started a fresh lake: 0, or the first record at or after
        `since_ms` (the end when none is that recent)."""
        parts = [hwt.TopicPartition(topic, p) for p in self.partitions[topic]]
        if since_ms is None or not parts:
            return {}
        found = self.consumer.offsets_for_time(parts, since_ms)
        return {f.partition: f.offset for f in found if f.offset is not None}

    def close(self) -> None:
        self.consumer.close()


def wait_landed(
    transport: hwt.Transport,
    lake: Path,
    group: str,
    tables: Mapping[str, tuple[str, ...]],
    timeout_s: float,
    on_progress: Callable[[int], None] | None = None,
    check: Callable[[], None] | None = None,
    since_ms: int | None = None,
) -> dict[str, int]:
    """Poll `Landing.behind` until nothing is missing or `timeout_s` passed; returns the last
    answer."""
    end = time.monotonic() + timeout_s
    landing = Landing(transport, lake, group, tables, since_ms)
    try:
        while True:
            left = landing.behind()
            if on_progress is not None:
                on_progress(sum(left.values()))
            if not any(left.values()) or time.monotonic() > end:
                return left
            if check is not None:
                check()
            time.sleep(0.5)
    finally:
        landing.close()
