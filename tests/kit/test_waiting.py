"""The kit's waits: they return as soon as the condition holds, and fail naming what they
waited for; an address where nothing listens refuses connections."""

from __future__ import annotations

import asyncio

import pytest

from tests.kit.ports import dead_address
from tests.kit.processes import is_listening
from tests.kit.waiting import wait_for, wait_until, wait_until_async


def test_a_wait_that_runs_out_names_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0\.05s waiting for the moon"):
        wait_until(lambda: False, 0.05, "the moon")


def test_wait_for_returns_the_first_value_and_calls_step_between_checks() -> None:
    values = iter([None, None, 7])
    steps: list[int] = []
    assert wait_for(lambda: next(values), 5, "a value", step=lambda: steps.append(1)) == 7
    assert steps == [1, 1]


async def test_the_async_wait_lets_other_tasks_run() -> None:

    done: list[bool] = []

    async def later() -> None:
        done.append(True)

    task = asyncio.ensure_future(later())
    await wait_until_async(lambda: done, 5, "the other task")
    await task
    with pytest.raises(AssertionError, match="waiting for never"):
        await wait_until_async(lambda: False, 0.05, "never")


def test_a_dead_address_refuses_connections() -> None:
    host, port = dead_address().split(":")
    assert not is_listening(host, int(port))
