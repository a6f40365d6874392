"""`headwater video` as a process: follows a stream to its end; bad options exit with code 2."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import orjson
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from headwater.cli import app
from tests.kit.processes import ManagedProcess, headwater_process
from tests.kit.waiting import wait_until_async
from tests.sources.video.conftest import read_values


async def run_to_end(process: ManagedProcess, timeout_s: float) -> int:
    """Start `process` and wait for its exit without blocking the loop (the origin serves in it);
    stopped (SIGTERM, then SIGKILL) if it is still running after `timeout_s`."""
    process.start()
    try:
        return await asyncio.to_thread(process.wait, timeout_s)
    finally:
        process.stop()


def logged_events(process: ManagedProcess) -> list[dict]:
    """The JSON log lines of `process` (stdout and stderr share its log)."""
    return [orjson.loads(line) for line in process.log_text().splitlines() if line.startswith("{")]


async def test_headwater_video_follows_a_stream_to_its_end(
    broker_url: str, tmp_path: Path, start_origin, ts_segments: list[bytes]
) -> None:
    origin, base = await start_origin(ts_segments, target_duration=1, window=5)
    origin.add_stream("cam1", head=4, ended=True)
    video = headwater_process(
        tmp_path, "video", "--stream", f"cam1={base}/cam1/index.m3u8",
        "--broker", broker_url, "--lake", str(tmp_path / "lake"),
        "--frames", "fps=2", "--frame-format", "png",
    )  # fmt: skip
    assert await run_to_end(video, 120) == 0, video.log_text()
    events = [e["event"] for e in logged_events(video)]
    assert events[0] == "stream_started" and "playlist_ended" in events
    segments = read_values(broker_url, "video.segments", "cam1")
    assert [v["sequence"] for v in segments] == [0, 1, 2, 3]
    frames = read_values(broker_url, "video.frames", "cam1")
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
    broker_url: str, tmp_path: Path, start_origin, ts_segments: list[bytes]
) -> None:
    origin, base = await start_origin(ts_segments, target_duration=1, window=5)
    origin.add_stream("cam2", head=3, ended=True)
    video = headwater_process(
        tmp_path, "video", "--stream", f"cam2={base}/cam2/index.m3u8",
        "--broker", broker_url, "--lake", str(tmp_path / "objects"),
    )  # fmt: skip
    assert await run_to_end(video, 120) == 0, video.log_text()
    lake = tmp_path / "lake"
    sink = headwater_process(
        tmp_path, "sink", "--broker", broker_url, "--lake", str(lake),
        "--topics", "video.segments", "--max-age-s", "0.5", "--group", f"lake-{uuid.uuid4().hex}",
    ).start()  # fmt: skip
    table = lake / "video_segments"

    def all_landed() -> bool:
        return (table / "_delta_log").is_dir() and len(_cam2_rows(table)) >= 3

    try:
        # Each check reads the table: a slower poll leaves the CPU to the sink under test.
        await wait_until_async(
            all_landed, 60, "the stream's 3 segments in the lake", interval_s=0.25
        )
    finally:
        sink_exit = await asyncio.to_thread(sink.stop, signal.SIGTERM, 60)
    assert sink_exit == 0, sink.log_text()
    rows = _cam2_rows(table)  # a Kafka cluster's video.segments holds other tests' streams too
    assert sorted(r["sequence"] for r in rows) == [0, 1, 2]
    assert all(Path(r["path"]).read_bytes() == ts_segments[r["sequence"]] for r in rows)


def _cam2_rows(table: Path) -> list[dict]:
    return [
        r for r in DeltaTable(str(table)).to_pyarrow_table().to_pylist() if r["stream"] == "cam2"
    ]
