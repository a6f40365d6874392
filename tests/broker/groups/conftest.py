from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from headwater.broker.groups import GroupCoordinator

from .helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "groups"


@pytest.fixture
async def coordinator(state_dir: Path, clock: FakeClock) -> AsyncIterator[GroupCoordinator]:
    c = GroupCoordinator(state_dir, clock=clock, run_timers=False)
    await c.start()
    yield c
    await c.close()
