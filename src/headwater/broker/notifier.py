"""Wakes long-polling fetches when data arrives, so Fetch honours max_wait without polling."""

from __future__ import annotations

import asyncio
from collections import defaultdict


class AppendNotifier:
    """Per topic-partition waiters; `notify` after an append wakes every fetch waiting on it."""

    def __init__(self) -> None:
        self._waiters: dict[tuple[str, int], set[asyncio.Future[None]]] = defaultdict(set)

    def notify(self, topic: str, partition: int) -> None:
        waiters = self._waiters.pop((topic, partition), None)
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    async def wait_any(self, keys: list[tuple[str, int]], timeout_s: float) -> bool:
        """Wait until one of `keys` gets data or the timeout passes; True when woken by data."""
        if timeout_s <= 0 or not keys:
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for key in keys:
            self._waiters[key].add(fut)
        try:
            await asyncio.wait_for(fut, timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            for key in keys:
                waiters = self._waiters.get(key)
                if waiters is not None:
                    waiters.discard(fut)
                    if not waiters:
                        del self._waiters[key]
