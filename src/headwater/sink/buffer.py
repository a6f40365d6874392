"""Records of one topic waiting for the next commit: the sink's micro-batch, flushed by size or age.

Holds plain lists (from `Consumer.consume_columns`) so a batch becomes Arrow arrays in one call
per column. Dropping a revoked partition's records is always safe: the next owner reads them again
from the table's txn version.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Batch:
    """One micro-batch of a topic: values with where they came from, and the last offset each
    partition reached (the txn versions the commit will carry)."""

    topic: str
    values: list[bytes | None] = field(default_factory=list)
    keys: list[bytes | None] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    timestamps_ms: list[int | None] = field(default_factory=list)
    last: dict[int, int] = field(default_factory=dict)
    first: dict[int, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.offsets)


class TopicBuffer:
    """The growing batch of one topic, with its size and the age of its oldest record."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.batch = Batch(topic)
        self.bytes = 0
        self.since: float | None = None  # monotonic time the oldest buffered record arrived

    def add(
        self,
        values: list[bytes | None],
        keys: list[bytes | None],
        partitions: list[int],
        offsets: list[int],
        timestamps_ms: list[int | None],
    ) -> None:
        if not offsets:
            return
        b = self.batch
        if self.since is None:
            self.since = time.monotonic()
        b.values += values
        b.keys += keys
        b.partitions += partitions
        b.offsets += offsets
        b.timestamps_ms += timestamps_ms
        self.bytes += sum(len(v) for v in values if v is not None)
        for p, o in zip(partitions, offsets, strict=True):
            if p not in b.first:
                b.first[p] = o
            b.last[p] = o  # offsets grow within a partition

    def age_s(self) -> float:
        return 0.0 if self.since is None else time.monotonic() - self.since

    def __len__(self) -> int:
        return len(self.batch)

    def take(self) -> Batch:
        """The batch so far; the buffer starts empty."""
        batch = self.batch
        self.batch = Batch(self.topic)
        self.bytes = 0
        self.since = None
        return batch

    def drop(self, partitions: set[int]) -> int:
        """Forget the records of `partitions` (revoked); returns how many were dropped."""
        b = self.batch
        keep = [i for i, p in enumerate(b.partitions) if p not in partitions]
        dropped = len(b) - len(keep)
        if dropped:
            kept = Batch(self.topic)
            for i in keep:
                kept.values.append(b.values[i])
                kept.keys.append(b.keys[i])
                kept.partitions.append(b.partitions[i])
                kept.offsets.append(b.offsets[i])
                kept.timestamps_ms.append(b.timestamps_ms[i])
            kept.last = {p: o for p, o in b.last.items() if p not in partitions}
            kept.first = {p: o for p, o in b.first.items() if p not in partitions}
            self.batch = kept
            self.bytes = sum(len(v) for v in kept.values if v is not None)
            if not kept.offsets:
                self.since = None
        return dropped
