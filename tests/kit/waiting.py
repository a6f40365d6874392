"""Waiting on a condition with a deadline: the only way tests synchronise (no bare sleeps).

`wait_until` re-checks a condition (calling `step` between checks when given, e.g. a consumer's
poll, otherwise pausing `interval_s`) and fails with an AssertionError naming what it waited for.
The pause between checks is a polling interval, not a guess at how long something takes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Between two checks of a condition: short enough that a wait ends soon after the condition
#: holds, long enough not to steal a shared machine's CPU from the processes under test.
POLL_INTERVAL_S = 0.01


def wait_until(
    condition: Callable[[], object],
    deadline_s: float = 30.0,
    what: str = "the condition",
    step: Callable[[], object] | None = None,
    interval_s: float = POLL_INTERVAL_S,
) -> None:
    """Until `condition()` is truthy; AssertionError naming `what` after `deadline_s` seconds."""
    wait_for(lambda: condition() or None, deadline_s, what, step, interval_s)


def wait_for(
    probe: Callable[[], T | None],
    deadline_s: float = 30.0,
    what: str = "a value",
    step: Callable[[], object] | None = None,
    interval_s: float = POLL_INTERVAL_S,
) -> T:
    """The first value of `probe()` that is not None; AssertionError after `deadline_s`."""
    end = time.monotonic() + deadline_s
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")
        if step is not None:
            step()
        else:
            time.sleep(interval_s)  # polling interval of a condition wait


async def wait_until_async(
    condition: Callable[[], object],
    deadline_s: float = 30.0,
    what: str = "the condition",
    interval_s: float = POLL_INTERVAL_S,
) -> None:
    """`wait_until` inside an event loop: other tasks run between checks."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")
        await asyncio.sleep(interval_s)  # polling interval of a condition wait
