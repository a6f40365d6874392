"""Drive a GroupCoordinator the way clients do, on an injected clock with explicit ticks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from kio.schema.errors import ErrorCode

from headwater.broker.groups import GroupCoordinator, JoinResult, SyncResult

T = TypeVar("T")

RANGE = [("range", b"range-md")]
SESSION_MS = 10_000
REBALANCE_MS = 30_000


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


async def settle() -> None:
    """Let every task that can run, run (no time passes)."""
    for _ in range(10):
        await asyncio.sleep(0)


def join(
    c: GroupCoordinator,
    member_id: str = "",
    *,
    group: str = "g",
    instance: str | None = None,
    protocols: list[tuple[str, bytes]] | None = None,
    protocol_type: str = "consumer",
    session_ms: int = SESSION_MS,
    rebalance_ms: int = REBALANCE_MS,
    client_id: str = "client",
    version: int = 9,
) -> asyncio.Task[JoinResult]:
    """Send a JoinGroup; the task finishes when the coordinator answers."""
    return asyncio.ensure_future(
        c.join_group(
            group,
            member_id,
            instance,
            protocol_type,
            protocols or RANGE,
            session_ms,
            rebalance_ms,
            client_id,
            "/127.0.0.1",
            version,
        )
    )


def sync(
    c: GroupCoordinator,
    res: JoinResult,
    assignments: list[tuple[str, bytes]] | None = None,
    *,
    group: str = "g",
    instance: str | None = None,
) -> asyncio.Task[SyncResult]:
    return asyncio.ensure_future(
        c.sync_group(
            group,
            res.generation_id,
            res.member_id,
            instance,
            res.protocol_type,
            res.protocol_name,
            assignments or [],
        )
    )


async def done(task: Awaitable[T]) -> T:
    """The result of a task that must already be answerable without time passing."""
    await settle()
    fut = asyncio.ensure_future(task)
    assert fut.done(), "the coordinator has not answered"
    return fut.result()


async def member_id_for(c: GroupCoordinator, *, group: str = "g", client_id: str = "client") -> str:
    """JoinGroup v4+ with no id: the coordinator hands one out (MEMBER_ID_REQUIRED)."""
    res = await done(join(c, group=group, client_id=client_id))
    assert res.error_code == ErrorCode.member_id_required
    return res.member_id


async def stable_group(c: GroupCoordinator, size: int, *, group: str = "g") -> list[JoinResult]:
    """A Stable group of `size` members (first is leader); the join results, leader first."""
    ids = [await member_id_for(c, group=group, client_id=f"c{i}") for i in range(size)]
    tasks = [join(c, mid, group=group) for mid in ids]
    await settle()
    c.tick()
    results = [await done(t) for t in tasks]
    leader = next(r for r in results if r.members)
    syncs = [sync(c, r, group=group) for r in results if r is not leader]
    assignments = [(r.member_id, r.member_id.encode()) for r in results]
    syncs.append(sync(c, leader, assignments, group=group))
    for s in syncs:
        assert (await done(s)).error_code == 0
    return [leader, *(r for r in results if r is not leader)]
