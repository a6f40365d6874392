"""Drop retried deliveries: event ids seen within a time window.

Clients retry a batch whose answer they did not get (the tracker, Segment's SDKs), so one event
may arrive twice; the second is dropped here, the lake deduplicates the rest (DESIGN.md).

Layout: a dict id -> bucket number (one lookup per id), and per time bucket the list of ids
added in it, oldest bucket first. A bucket is `window_s / buckets` wide; when the clock enters
a new bucket, the buckets that fell out of the window are dropped with their ids. An id is
therefore remembered at least `window_s` and at most one bucket longer. Memory is
bounded: when more than `max_ids` ids are listed, the oldest are forgotten early. A clock that
goes back adds to the newest bucket. Seeing an id again does not extend its time. State lives
in memory only: a restart forgets it (the lake's deduplication still holds).
"""

from __future__ import annotations

from collections import deque


class EventIdDeduplicator:
    def __init__(self, window_s: float, max_ids: int, buckets: int = 8) -> None:
        if window_s <= 0 or max_ids < 1 or buckets < 1:
            raise ValueError("window_s, max_ids and buckets must be positive")
        self.window_s = window_s
        self.max_ids = max_ids
        self._width_ms = max(1, -(-int(window_s * 1000) // buckets))  # ceil: n buckets >= window
        self._span = buckets + 1  # buckets that may hold ids younger than the window
        self._bucket_of: dict[str, int] = {}
        self._buckets: deque[tuple[int, list[str]]] = deque()
        self._head = 0  # ids of the oldest bucket already evicted (by max_ids)
        self._listed = 0  # ids in the buckets' lists, minus those evicted

    def __len__(self) -> int:
        return len(self._bucket_of)

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._bucket_of

    def seen_or_add(self, event_id: str, now_ms: int) -> bool:
        """True when `event_id` was seen within the window (a duplicate); else remember it."""
        bucket = now_ms // self._width_ms
        if not self._buckets or bucket > self._buckets[-1][0]:
            self._advance(bucket)
        if event_id in self._bucket_of:
            return True
        newest, ids = self._buckets[-1]
        self._bucket_of[event_id] = newest
        ids.append(event_id)
        self._listed += 1
        if self._listed > self.max_ids:
            self._evict_oldest()
        return False

    def forget(self, event_id: str) -> None:
        """Unsee an id (its delivery failed: the client's retry must get through)."""
        self._bucket_of.pop(event_id, None)

    def _advance(self, bucket: int) -> None:
        self._buckets.append((bucket, []))
        while self._buckets[0][0] <= bucket - self._span:
            old, ids = self._buckets.popleft()
            self._drop(old, ids, self._head, len(ids))
            self._listed -= len(ids) - self._head
            self._head = 0

    def _evict_oldest(self) -> None:
        old, ids = self._buckets[0]
        if self._head < len(ids):
            self._drop(old, ids, self._head, self._head + 1)
            self._head += 1
            self._listed -= 1
        if self._head == len(ids) and len(self._buckets) > 1:
            self._buckets.popleft()
            self._head = 0
        elif self._head > 1024 and self._head * 2 > len(ids):  # the newest bucket is the oldest
            del ids[: self._head]
            self._head = 0

    def _drop(self, bucket: int, ids: list[str], start: int, stop: int) -> None:
        bucket_of = self._bucket_of
        for i in range(start, stop):
            event_id = ids[i]
            if bucket_of.get(event_id) == bucket:  # not forgotten and re-added since
                del bucket_of[event_id]
