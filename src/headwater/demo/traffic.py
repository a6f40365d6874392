"""Sends the simulated clients' requests to the collector, many at once, as clients would.

A 503 (broker not acknowledging) is retried after its `Retry-After`, like the tracker and the
Segment SDKs do; any other non-2xx answer is counted with the collector's message, so the demo
can say exactly what was refused (nothing should be).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from headwater.demo.wire import Request

CONCURRENCY = 24
MAX_ATTEMPTS = 8


@dataclass
class TrafficStats:
    requests: int = 0
    accepted: int = 0
    by_channel: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # "<status> <message>" -> requests
    retries: int = 0


class Traffic:
    """One HTTP client (keep-alive connections) to the collector at `base_url`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.stats = TrafficStats()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Traffic:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONCURRENCY),
            timeout=aiohttp.ClientTimeout(total=30),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, requests: Sequence[Request]) -> None:
        """Send every request (at most CONCURRENCY in flight)."""
        queue: asyncio.Queue[Request] = asyncio.Queue()
        for request in requests:
            queue.put_nowait(request)

        async def worker() -> None:
            while not queue.empty():
                await self._one(queue.get_nowait())

        await asyncio.gather(*(worker() for _ in range(min(CONCURRENCY, len(requests)))))

    async def _one(self, request: Request) -> None:
        assert self._session is not None
        stats = self.stats
        for attempt in range(1, MAX_ATTEMPTS + 1):
            async with self._session.post(
                self.base_url + request.path, data=request.body, headers=request.headers
            ) as response:
                body = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
            stats.requests += 1
            if 200 <= status < 300:
                stats.accepted += request.events
                stats.by_channel[request.channel] += request.events
                return
            if status == 503 and attempt < MAX_ATTEMPTS:
                stats.retries += 1
                await asyncio.sleep(min(2.0, float(retry_after or 1)))
                continue
            stats.refused[f"{status} {body[:200].decode(errors='replace')}"] += 1
            return
