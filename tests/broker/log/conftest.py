"""Fixtures for partition storage tests: logs in private directories, closed at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from headwater.broker.log import LogConfig, PartitionLog

OpenLog = Callable[..., PartitionLog]


def record_calls(
    monkeypatch: pytest.MonkeyPatch,
    owner: object,
    name: str,
    key: Callable[..., object] = lambda first, *rest: first,
) -> list[object]:
    """Wrap owner.name so every call is noted (as key(*args)) and then really made."""
    calls: list[object] = []
    real = getattr(owner, name)

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(key(*args))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return calls


def abandon(log: PartitionLog) -> None:
    """Simulate kill -9: close the descriptors, write nothing (no flush, no clean marker)."""
    for segment in log.segments:
        segment.close()


@pytest.fixture
def open_log(tmp_path: Path) -> Iterator[OpenLog]:
    """open_log(**LogConfig fields) opens (or reopens) the partition in tmp_path/t-0."""
    opened: list[PartitionLog] = []

    def open_(*, now_ms: int = 0, **config: object) -> PartitionLog:
        log = PartitionLog(tmp_path / "t-0", LogConfig(**config), "t", 0, now_ms=now_ms)  # type: ignore[arg-type]
        opened.append(log)
        return log

    yield open_
    for log in opened:
        abandon(log)
