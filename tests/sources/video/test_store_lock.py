"""A stream's local directory belongs to one follower: a second `run_video` (another process, or
the same one) following it into the same place refuses at start, before touching the broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.dirlock import DirectoryInUseError
from headwater.sources.video.runner import StreamSpec, VideoConfig, run_video
from headwater.sources.video.store import ObjectStore


def test_lock_streams_holds_each_stream_directory(tmp_path: Path) -> None:
    store = ObjectStore(str(tmp_path / "objects"))
    locks = store.lock_streams(["cam1", "cam2"])
    try:
        with pytest.raises(DirectoryInUseError, match="cam2"):
            ObjectStore(str(tmp_path / "objects")).lock_streams(["cam3", "cam2"])
        ObjectStore(str(tmp_path / "objects")).lock_streams(["cam3"])[0].release()  # cam3 freed
    finally:
        for lock in locks:
            lock.release()
    for lock in ObjectStore(str(tmp_path / "objects")).lock_streams(["cam1", "cam2"]):
        lock.release()  # both were free again


async def test_second_follower_of_a_stream_refuses_before_connecting(tmp_path: Path) -> None:
    lake = tmp_path / "objects"
    held = ObjectStore(str(lake)).lock_streams(["cam1"])
    config = VideoConfig(
        broker="127.0.0.1:1",  # never reached: the lock is checked first
        lake=str(lake),
        streams=(StreamSpec("cam1", "http://127.0.0.1:1/cam1/index.m3u8"),),
    )
    try:
        with pytest.raises(DirectoryInUseError) as info:
            await run_video(config)
        assert info.value.directory == lake / "cam1"
    finally:
        held[0].release()
