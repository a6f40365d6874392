"""Video benchmark: how many live HLS streams one `headwater video` process follows, missing none.

Load: ffmpeg encodes three 2-second segments of 1280x720 test pattern at ~2 Mbit/s (CBR) once;
one origin process (`headwater.sources.video.testing.LiveOrigin`, aiohttp) serves N synthetic
live playlists that slide a 5-segment window over those same bytes, a new segment every 2 s per
stream, stream clocks spread over the 2 s. The origin and the embedded broker run pinned to core
1, `headwater video` pinned to core 0, so its CPU time is its own.

Per scenario (N streams, frames off or keyframes): warm up (every stream's first window fetched),
then measure the follower's CPU over `--seconds`, stop it with SIGTERM, read `video.segments`
and check per stream that sequences are contiguous and that there are no gap records.

Baselines measured in the same run: (a) bare aiohttp GETs of the same segment bytes (no
playlist, storage, checksum or broker): the floor of CPU per stream; (b) full decoding of every
frame versus keyframe-only decoding with PyAV (frames sampled per second on one core).

    .venv/bin/python bench/video.py [--streams 100,200] [--seconds 60] [--frames-streams 100]
                                    [--lake-dir DIR] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from _net import free_port, wait_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv/bin/python"
CLK_TCK = os.sysconf("SC_CLK_TCK")
FOLLOWER_CPU = {0}
LOAD_CPU = {1}
SEGMENT_S = 2
WINDOW = 5


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def make_segments(directory: Path) -> list[bytes]:
    """Three 2-second 720p segments at ~2 Mbit/s, keyframe at the start of each."""
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", "testsrc2=size=1280x720:rate=25", "-t", str(3 * SEGMENT_S),
         "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-keyint_min", "50",
         "-sc_threshold", "0", "-b:v", "2M", "-minrate", "2M", "-maxrate", "2M",
         "-bufsize", "2M", "-x264-params", "nal-hrd=cbr", "-pix_fmt", "yuv420p",
         "-f", "hls", "-hls_time", str(SEGMENT_S), "-hls_list_size", "0",
         "-hls_segment_filename", str(directory / "s%d.ts"), str(directory / "i.m3u8")],
        check=True,
    )  # fmt: skip
    return [(directory / f"s{i}.ts").read_bytes() for i in range(3)]


def _serve_origin(segments: list[bytes], streams: int, port: int, ready: mp.Event) -> None:
    os.sched_setaffinity(0, LOAD_CPU)
    from headwater.sources.video.testing import LiveOrigin

    async def main() -> None:
        origin = LiveOrigin(segments, target_duration=SEGMENT_S, window=WINDOW)
        now = time.monotonic()
        rng = random.Random(7)
        for i in range(streams):
            # Already live for a while, clocks spread over one segment duration.
            origin.add_stream(f"s{i}", clock=True, t0=now - 60 - rng.random() * SEGMENT_S)
        await origin.start("127.0.0.1", port)
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def read_segments(bootstrap: str) -> list[dict]:
    from headwater import transport

    conn = transport.connect(bootstrap)
    out: list[dict] = []
    with conn.consumer("bench-reader") as consumer:
        tp = transport.TopicPartition("video.segments", 0)
        _, high = consumer.watermarks(tp)
        consumer.assign([transport.TopicPartition("video.segments", 0, transport.EARLIEST)])
        last = -1
        while last < high - 1:
            for r in consumer.consume(5000, 1.0):
                out.append(orjson.loads(r.value))
                last = r.offset
    conn.close()
    return out


def run_scenario(
    segments: list[bytes], streams: int, seconds: float, frames: bool, work: Path, lake: Path
) -> dict:
    work.mkdir(parents=True)
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    origin_port, broker_port = free_port(), free_port()
    origin = ctx.Process(
        target=_serve_origin, args=(segments, streams, origin_port, ready), daemon=True
    )
    origin.start()
    broker = subprocess.Popen(
        [PYTHON, "-m", "headwater", "broker", "--listen", f"127.0.0.1:{broker_port}",
         "--data-dir", str(work / "broker"), "--log-level", "warning"],
        preexec_fn=lambda: os.sched_setaffinity(0, LOAD_CPU),
        stdout=subprocess.DEVNULL, stderr=(work / "broker.log").open("wb"),
    )  # fmt: skip
    follower = None
    try:
        ready.wait(60)
        wait_port(broker_port)
        args = [f"--stream=s{i}=http://127.0.0.1:{origin_port}/s{i}/index.m3u8"
                for i in range(streams)]  # fmt: skip
        if frames:
            args += ["--frames", "keyframes", "--decode-workers", "1"]
        log = (work / "video.log").open("wb")
        follower = subprocess.Popen(
            [PYTHON, "-m", "headwater", "video", *args, "--broker", f"127.0.0.1:{broker_port}",
             "--lake", str(lake), "--log-level", "warning"],
            preexec_fn=lambda: os.sched_setaffinity(0, FOLLOWER_CPU),
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        # Warm-up: each stream's first window (WINDOW segments) fetched at once.
        time.sleep(max(10.0, streams * WINDOW * 0.004))
        cpu0, wall0 = cpu_seconds(follower.pid), time.monotonic()
        broker_cpu0 = cpu_seconds(broker.pid)
        origin_cpu0 = cpu_seconds(origin.pid)
        time.sleep(seconds)
        origin_cpu = cpu_seconds(origin.pid) - origin_cpu0
        cpu = cpu_seconds(follower.pid) - cpu0
        wall = time.monotonic() - wall0
        broker_cpu = cpu_seconds(broker.pid) - broker_cpu0
        follower.send_signal(signal.SIGTERM)
        follower.wait(60)
        values = read_segments(f"127.0.0.1:{broker_port}")
    finally:
        for proc in (follower, broker):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
        origin.kill()
        origin.join(10)
    by_stream: dict[str, list[dict]] = {}
    for v in values:
        by_stream.setdefault(v["stream"], []).append(v)
    holes = gaps = startup_gaps = 0
    reasons: dict[str, int] = {}
    for records in by_stream.values():
        seqs = [r["sequence"] for r in records]
        holes += (seqs[-1] - seqs[0] + 1) - len(set(seqs))
        for r in records:
            if r["status"] == "gap":
                gaps += 1
                startup_gaps += r["sequence"] < seqs[0] + WINDOW  # in the first window loaded
                reason = r["gap_reason"].split(":")[0]
                reasons[reason] = reasons.get(reason, 0) + 1
    stored = sum(v["status"] == "stored" for v in values)
    errors = [line for line in (work / "video.log").read_text().splitlines() if "error" in line]
    shutil.rmtree(lake, ignore_errors=True)
    return {
        "streams": streams,
        "frames": "keyframes" if frames else "off",
        "seconds": round(wall, 1),
        "cpu_s": round(cpu, 2),
        "core_share": round(cpu / wall, 3),
        "cpu_ms_per_stream_s": round(1000 * cpu / wall / streams, 3),
        "streams_per_core": round(streams / (cpu / wall), 1) if cpu else None,
        "streams_seen": len(by_stream),
        "segments_stored": stored,
        "gap_records": gaps,
        "gaps_in_first_window": startup_gaps,
        "gap_reasons": reasons,
        "holes": holes,
        "missed": gaps + holes + (streams - len(by_stream)),
        "broker_core_share": round(broker_cpu / wall, 3),
        "origin_core_share": round(origin_cpu / wall, 3),
        "log_errors": len(errors),
    }


async def _bare_fetch(segments: list[bytes], count: int) -> float:
    """CPU seconds (this process, client side only) to GET `count` segments with aiohttp."""
    import aiohttp

    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    port = free_port()
    origin = ctx.Process(target=_serve_origin, args=(segments, 1, port, ready), daemon=True)
    origin.start()
    ready.wait(60)
    try:
        async with aiohttp.ClientSession() as session:
            live = await (await session.get(f"http://127.0.0.1:{port}/s0/index.m3u8")).text()
            names = [line for line in live.splitlines() if line.endswith(".ts")]
            url = f"http://127.0.0.1:{port}/s0/{names[-1]}"

            async def one() -> None:
                async with session.get(url) as response:
                    await response.read()

            t0 = time.process_time()
            for _ in range(count // 8):
                await asyncio.gather(*(one() for _ in range(8)))
            return time.process_time() - t0
    finally:
        origin.kill()
        origin.join(10)


def decode_rates(segments: list[bytes], seconds: float = 8.0) -> dict:
    """Frames per second on one core: keyframe-only sampling (JPEG) against a full decode."""
    import io

    import av

    from headwater.sources.video.frames import FrameSampling, sample_frames

    def full(data: bytes) -> int:
        with av.open(io.BytesIO(data)) as c:
            return sum(1 for _ in c.decode(video=0))

    def keyframes(data: bytes) -> int:
        return len(sample_frames(data, FrameSampling(None, "jpeg")))

    rates = {}
    for name, fn in (("full_decode_fps", full), ("keyframe_jpeg_fps", keyframes)):
        frames, done, t0 = 0, 0, time.process_time()
        while time.process_time() - t0 < seconds / 2:
            for s in segments:
                frames += fn(s)
                done += 1
        elapsed = time.process_time() - t0
        rates[name] = round(frames / elapsed, 1)
        rates[name.replace("_fps", "_segments_per_s")] = round(done / elapsed, 1)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default="100,200", help="comma-separated stream counts")
    parser.add_argument("--frames-streams", type=int, default=100, help="0: skip frames row")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--lake-dir", type=Path, help="where the follower writes (default: the temp dir's disk)"
    )
    args = parser.parse_args()
    console = Console(width=150)
    os.sched_setaffinity(0, FOLLOWER_CPU)
    with tempfile.TemporaryDirectory(prefix="hw-video-bench-") as tmp:
        work = Path(tmp)
        segments = make_segments(Path(tmp))
        mbit = sum(len(s) for s in segments) * 8 / (len(segments) * SEGMENT_S) / 1e6
        console.print(f"segments: {len(segments)} x {SEGMENT_S} s, {mbit:.2f} Mbit/s, 1280x720")
        count = 400
        bare_cpu = asyncio.run(_bare_fetch(segments, count))
        bare_ms_per_stream_s = 1000 * bare_cpu / count / SEGMENT_S
        decode = decode_rates(segments)
        rows = []
        plan = [(int(n), False) for n in args.streams.split(",") if n]
        if args.frames_streams:
            plan.append((args.frames_streams, True))
        for i, (n, frames) in enumerate(plan):
            console.print(f"scenario: {n} streams, frames {'keyframes' if frames else 'off'} ...")
            lake = (args.lake_dir or work) / f"lake{i}"
            rows.append(run_scenario(segments, n, args.seconds, frames, work / f"run{i}", lake))
    table = Table(title=f"headwater video, {args.seconds:g} s measured per row, core 0")
    for col in ("streams", "frames", "segments", "missed", "core share", "CPU ms/stream/s",
                "streams/core", "x bare fetch", "broker core", "origin core"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r["streams"]),
            r["frames"],
            str(r["segments_stored"]),
            str(r["missed"]),
            f"{r['core_share']:.2f}",
            f"{r['cpu_ms_per_stream_s']:.2f}",
            f"{r['streams_per_core']:.0f}" if r["streams_per_core"] else "-",
            f"{r['cpu_ms_per_stream_s'] / bare_ms_per_stream_s:.1f}",
            f"{r['broker_core_share']:.2f}",
            f"{r['origin_core_share']:.2f}",
        )
    console.print(table)
    console.print(
        f"baseline bare aiohttp fetch: {bare_ms_per_stream_s:.3f} CPU ms per stream-second; "
        f"decoding on one core: full decode {decode['full_decode_fps']} frames/s "
        f"({decode['full_decode_segments_per_s']} segments/s); keyframes only, sampled to JPEG: "
        f"{decode['keyframe_jpeg_fps']} frames/s ({decode['keyframe_jpeg_segments_per_s']} "
        "segments/s)"
    )
    if args.json:
        args.json.write_bytes(
            orjson.dumps(
                {"rows": rows, "bare_ms_per_stream_s": bare_ms_per_stream_s, "decode": decode},
                option=orjson.OPT_INDENT_2,
            )
        )


if __name__ == "__main__":
    sys.exit(main())
