"""`headwater video` as a process: follows a stream to its end; bad options exit with code 2."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import orjson
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from headwater.cli import app
from tests.conftest import BrokerProcess
from tests.kit.waiting import wait_until_async
from tests.sources.video.conftest import read_values


async def test_headwater_video_follows_a_stream_to_its_end(
    broker: BrokerProcess, tmp_path: Path, start_origin, ts_segments: list[bytes]
) -> None:
    origin, base = await start_origin(ts_segments, target_duration=1, window=5)
    origin.add_stream("cam1", head=4, ended=True)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "headwater", "video",
        "--stream", f"cam1={base}/cam1/index.m3u8",
        "--broker", broker.bootstrap, "--lake", str(tmp_path / "lake"),
        "--frames", "fps=2", "--frame-format", "png",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, stderr.decode()
    events = [orjson.loads(line)["event"] for line in stderr.decode().splitlines()]
    assert events[0] == "stream_started" and "playlist_ended" in events
    assert [v["sequence"] for v in read_values(broker.bootstrap, "video.segments")] == [0, 1, 2, 3]
    frames = read_values(broker.bootstrap, "video.frames")
    assert len(frames) == 8 and all(f["path"].endswith(".png") for f in frames)


@pytest.mark.parametrize(
    "args",
    [
        ["--stream", "no-url"],
        ["--stream", "a=http://x", "--frames", "all"],
        ["--stream", "a=http://x", "--variant", "best"],
        ["--stream", "../up=http://x"],
        ["--stream", "a=http://x", "--stream", "a=http://y"],
    ],
)
def test_bad_options_are_refused_with_exit_code_2(args: list[str]) -> None:
    result = CliRunner().invoke(app, ["video", *args])
    assert result.exit_code == 2, result.output


async def test_segments_land_in_the_lake_table_video_segments(
    broker: BrokerProcess, tmp_path: Path, start_origin, ts_segments: list[bytes]
) -> None:
    origin, base = await start_origin(ts_segments, target_duration=1, window=5)
    origin.add_stream("cam2", head=3, ended=True)
    video = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "headwater", "video",
        "--stream", f"cam2={base}/cam2/index.m3u8",
        "--broker", broker.bootstrap, "--lake", str(tmp_path / "objects"),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(video.communicate(), 120)
    assert video.returncode == 0, stderr.decode()
    lake = tmp_path / "lake"
    sink = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "headwater", "sink",
        "--broker", broker.bootstrap, "--lake", str(lake),
        "--topics", "video.segments", "--max-age-s", "0.5",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    table = lake / "video_segments"

    def first_commit_landed() -> bool:
        return (table / "_delta_log").is_dir() and _rows(table) > 0

    try:
        # Each check reads the table: a slower poll leaves the CPU to the sink under test.
        await wait_until_async(first_commit_landed, 60, "the sink's first commit", interval_s=0.25)
    finally:
        sink.send_signal(signal.SIGTERM)
        _, sink_err = await asyncio.wait_for(sink.communicate(), 60)
    assert sink.returncode == 0, sink_err.decode()
    rows = DeltaTable(str(table)).to_pyarrow_table().to_pylist()
    assert sorted(r["sequence"] for r in rows) == [0, 1, 2]
    assert {r["stream"] for r in rows} == {"cam2"}
    assert all(Path(r["path"]).read_bytes() == ts_segments[r["sequence"]] for r in rows)


def _rows(table: Path) -> int:
    return DeltaTable(str(table)).to_pyarrow_table().num_rows
