"""A real live stream: ffmpeg writes HLS with a 3-segment sliding window and deletes old segments,
an HTTP server serves the directory, and the runner follows it through an outage and a restart.

An archiver independent of the runner copies every segment the playlist ever lists (polling
well within the window), so the test knows each segment's bytes after ffmpeg deleted it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from headwater.sources.video.runner import StreamSpec, run_video
from tests.conftest import BrokerProcess, free_port
from tests.kit.processes import ManagedProcess, log_file
from tests.kit.waiting import wait_until_async
from tests.sources.video.conftest import FFMPEG_SOURCE, H264, read_values
from tests.sources.video.test_runner import config

WINDOW = 3


class FfmpegOrigin:
    """Serves ffmpeg's output directory; `blocked` makes the playlist answer 503 (an outage)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.blocked = False
        self.archive: dict[int, bytes] = {}
        self.encoder: ManagedProcess | None = None

    def restart_encoder(self) -> dict[int, bytes]:
        """Stop ffmpeg, clear its output, start it again numbering from 0 (`-start_number 0`);
        returns the archive of the run that ended (a new one starts)."""
        assert self.encoder is not None
        self.encoder.stop()
        for leftover in self.directory.iterdir():
            leftover.unlink()
        ended, self.archive = self.archive, {}
        self.encoder = start_encoder(self.directory, "-start_number", "0")
        return ended

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["file"]
        if name.endswith(".m3u8") and self.blocked:
            raise web.HTTPServiceUnavailable()
        try:
            return web.Response(body=(self.directory / name).read_bytes())
        except FileNotFoundError:
            raise web.HTTPNotFound() from None

    async def archive_forever(self) -> None:
        while True:
            self.archive_once()
            await asyncio.sleep(0.1)  # the archiver's polling pace, not a synchronisation

    def archive_once(self) -> None:
        try:
            lines = (self.directory / "live.m3u8").read_text().splitlines()
        except FileNotFoundError:
            return
        sequence = None
        for line in lines:
            if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                sequence = int(line.partition(":")[2])
            elif line and not line.startswith("#") and sequence is not None:
                if sequence not in self.archive:
                    # Deleted between the playlist read and now: not in the oracle.
                    with contextlib.suppress(FileNotFoundError):
                        self.archive[sequence] = (self.directory / line).read_bytes()
                sequence += 1

    @property
    def newest(self) -> int:
        return max(self.archive, default=-1)


def start_encoder(directory: Path, *options: str) -> ManagedProcess:
    """ffmpeg writing live HLS into `directory`: 1 s segments, a WINDOW-segment playlist.

    Its log goes beside `directory` (a restart empties `directory`)."""
    cmd = [
        "ffmpeg", "-nostdin", "-loglevel", "error", "-re", *FFMPEG_SOURCE, *H264,
        "-f", "hls", "-hls_time", "1", "-hls_list_size", str(WINDOW), *options,
        "-hls_flags", "delete_segments+temp_file+program_date_time",
        "-hls_segment_filename", str(directory / "seg%d.ts"), str(directory / "live.m3u8"),
    ]  # fmt: skip
    encoder = ManagedProcess(cmd, log_file(directory.parent, "ffmpeg"), name="ffmpeg")
    return encoder.start()


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[FfmpegOrigin, str]]:
    directory = tmp_path / "hls"
    directory.mkdir()
    ffmpeg = start_encoder(directory)
    origin = FfmpegOrigin(directory)
    app = web.Application()
    app.router.add_get("/live/{file}", origin.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    archiver = asyncio.create_task(origin.archive_forever())
    origin.encoder = ffmpeg
    try:
        yield origin, f"http://127.0.0.1:{port}/live/live.m3u8"
    finally:
        archiver.cancel()
        origin.encoder.stop()
        await runner.cleanup()


def stored_sequences(lake: Path) -> set[int]:
    return {int(p.stem) for p in lake.glob("cam/*/*.ts")}


async def test_live_ffmpeg_stream_outage_gap_and_restart_without_duplicates(
    broker: BrokerProcess, tmp_path: Path, live: tuple[FfmpegOrigin, str]
) -> None:
    origin, url = live
    lake = tmp_path / "lake"
    cfg = config(broker, lake, StreamSpec("cam", url))

    # 1. Follow the live stream for a few segments.
    stop = asyncio.Event()
    task = asyncio.create_task(run_video(cfg, stop))
    await wait_until_async(lambda: len(stored_sequences(lake)) >= 4, 60, "4 segments stored")

    # 2. An outage longer than the window: the segments that came and went are a gap.
    origin.blocked = True
    before = max(stored_sequences(lake))
    await wait_until_async(lambda: origin.newest >= before + WINDOW + 3, 60, "window moved past us")
    origin.blocked = False
    released_at = origin.newest
    await wait_until_async(lambda: max(stored_sequences(lake)) >= released_at, 60, "caught up")
    stop.set()
    await asyncio.wait_for(task, 30)

    # 3. A new process resumes from the stored position.
    first_run_end = max(stored_sequences(lake))
    stop = asyncio.Event()
    task = asyncio.create_task(run_video(cfg, stop))
    await wait_until_async(lambda: max(stored_sequences(lake)) >= first_run_end + 2, 60, "resumed")
    stop.set()
    await asyncio.wait_for(task, 30)

    values = read_values(broker.bootstrap, "video.segments")
    sequences = [v["sequence"] for v in values]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))  # no dup, no hole
    gaps = [v["sequence"] for v in values if v["status"] == "gap"]
    assert gaps, "the outage left no gap record"
    assert all(v["gap_reason"] == "left_playlist" for v in values if v["status"] == "gap")
    # One run of sequences, all after the last one stored before the outage and all gone from
    # the window when the playlist came back; the stream continues right after it.
    assert gaps == list(range(gaps[0], gaps[-1] + 1))
    assert before < gaps[0] and gaps[-1] <= released_at - WINDOW
    assert all(s in origin.archive for s in gaps)  # they existed
    for v in values:
        if v["status"] == "stored":
            body = origin.archive[v["sequence"]]
            assert Path(v["path"]).read_bytes() == body, f"segment {v['sequence']} differs"
            assert v["checksum"] == "sha256:" + hashlib.sha256(body).hexdigest()
            assert v["program_date_time"] is not None


async def test_live_ffmpeg_encoder_restarting_its_numbering_is_a_recorded_new_epoch(
    broker: BrokerProcess, tmp_path: Path, live: tuple[FfmpegOrigin, str]
) -> None:
    origin, url = live
    lake = tmp_path / "lake"
    cfg = config(broker, lake, StreamSpec("cam", url))

    def stored_in(epoch: int) -> set[int]:
        prefix = f"e{epoch}-" if epoch else ""
        names = (p.stem.removeprefix(prefix) for p in lake.glob(f"cam/*/{prefix}*.ts"))
        return {int(n) for n in names if n.isdigit()}

    stop = asyncio.Event()
    task = asyncio.create_task(run_video(cfg, stop))
    # Far enough that the restarted numbering is more than a window behind our position.
    await wait_until_async(lambda: max(stored_in(0), default=-1) >= WINDOW + 4, 90, "first run")
    first_run = origin.restart_encoder()
    await wait_until_async(lambda: len(stored_in(1)) >= 4, 90, "4 segments of the new numbering")
    stop.set()
    await asyncio.wait_for(task, 30)

    values = read_values(broker.bootstrap, "video.segments")
    restarts = [v for v in values if v["status"] == "restart"]
    assert len(restarts) == 1, restarts
    restart = restarts[0]
    assert restart["epoch"] == 1 and restart["previous_epoch"] == 0
    before = [v for v in values if v["epoch"] == 0]
    after = [v for v in values if v["epoch"] == 1 and v["status"] != "restart"]
    # Epoch 0 ends right before the restart's previous_next_sequence; epoch 1 goes on from the
    # restart's sequence; nothing silent in between.
    assert [v["sequence"] for v in before] == list(
        range(before[0]["sequence"], restart["previous_next_sequence"])
    )
    assert [v["sequence"] for v in after] == list(
        range(restart["sequence"], restart["sequence"] + len(after))
    )
    assert restart["sequence"] < WINDOW  # followed from the new window's oldest segment
    for v, archive in [*((v, first_run) for v in before), *((v, origin.archive) for v in after)]:
        if v["status"] == "stored":
            assert Path(v["path"]).read_bytes() == archive[v["sequence"]], v
