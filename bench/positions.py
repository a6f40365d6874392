"""Position store benchmark: a reader's start-up after a simulated week of saves.

Load: one embedded broker (fresh port and data directory). `_headwater.positions` gets a week of
saves as the running sources make them: each CDC source saves every `--save-interval-ms` (the
publisher's default, 200 ms: 3,024,000 records a week) and each video stream once per 2-second
segment (302,400 a week), under the store's keys (`cdc:<source>`, `video:<stream>`), through
`CdcPositionWriter`'s value format.

Measured, for the uncompacted week and for what compaction leaves of it (one record per key,
produced to a second topic created by the same `topic_spec`, as the baseline of the same run):
the partition's bytes on disk, the records read, and the wall time of `read_latest`, the read a
CDC reader or video follower does before it starts. The week's read must return exactly the
latest position of every key.

    PYTHONPATH=src .venv/bin/python bench/positions.py [--cdc-sources 1] [--video-streams 4]
                                                       [--days 7] [--save-interval-ms 200]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from headwater import transport
from headwater.contracts import positions as formats
from headwater.contracts.topics import POSITIONS
from headwater.local.ports import free_port, wait_for_port
from headwater.sources import positions


def week_of_saves(
    sources: int, streams: int, days: float, save_interval_ms: int
) -> Iterator[tuple[bytes, bytes]]:
    """Every (key, value) saved, in write order (generated: a week is gigabytes of tuples)."""
    cdc_saves = int(days * 86_400_000 / save_interval_ms)
    video_saves = int(days * 86_400 / 2)
    for i in range(max(cdc_saves, video_saves)):
        if i < cdc_saves:
            for s in range(sources):
                position = {"lsn": f"0/{i:X}", "lsn_int": i, "txId": 1000 + i}
                value = formats.encode_cdc(f"db{s}", "postgresql", position, i)
                yield formats.cdc_key(f"db{s}"), value
        if i < video_saves:
            for c in range(streams):
                yield formats.video_key(f"cam{c}"), formats.encode_video(f"cam{c}", i)


def produce(
    conn: transport.Transport, topic: str, records: Iterable[tuple[bytes, bytes]]
) -> dict[bytes, bytes]:
    """Produce every record; returns the latest value per key and counts them."""
    latest: dict[bytes, bytes] = {}
    count = 0
    options = transport.ProducerOptions(linger_ms=50, queue_max_messages=1_000_000)
    with conn.producer(options) as producer:
        it = iter(records)
        while chunk := list(itertools.islice(it, 100_000)):
            producer.produce_batch(transport.ProducerRecord(topic, v, k) for k, v in chunk)
            latest.update(chunk)
            count += len(chunk)
            producer.poll(0)
        if producer.flush(600) != 0:
            raise SystemExit("the broker did not acknowledge every record")
    return count, latest


def timed_read(conn: transport.Transport) -> tuple[dict[bytes, bytes], float]:
    started = time.perf_counter()
    latest = positions.read_latest(conn, stall_timeout_s=30)
    return latest, time.perf_counter() - started


def partition_bytes(data_dir: Path, topic: str) -> int:
    return sum(f.stat().st_size for f in (data_dir / "logs" / f"{topic}-0").glob("*.log"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cdc-sources", type=int, default=1)
    parser.add_argument("--video-streams", type=int, default=4)
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--save-interval-ms", type=int, default=200)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hw-bench-positions-"))
    port = free_port()
    broker = subprocess.Popen(
        [sys.executable, "-m", "headwater", "broker", "--listen", f"127.0.0.1:{port}",
         "--data-dir", str(work / "data")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port("127.0.0.1", port)
        conn = transport.connect(f"127.0.0.1:{port}")
        with conn.admin() as admin:
            positions.ensure_topic(admin)
        saves = week_of_saves(
            args.cdc_sources, args.video_streams, args.days, args.save_interval_ms
        )
        records, latest = produce(conn, POSITIONS, saves)
        week, week_s = timed_read(conn)
        if week != latest:
            raise SystemExit("the week's read did not return the latest value of every key")
        week_bytes = partition_bytes(work / "data", POSITIONS)

        # What compaction leaves: one record per key, in a fresh positions topic.
        with conn.admin() as admin:
            admin.delete_topics([POSITIONS])
            positions.ensure_topic(admin)
        produce(conn, POSITIONS, list(latest.items()))  # what compaction keeps
        compacted, compacted_s = timed_read(conn)
        assert compacted == latest
        compacted_bytes = partition_bytes(work / "data", POSITIONS)
        conn.close()
    finally:
        broker.send_signal(signal.SIGTERM)
        broker.wait(30)
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"{records:,} saves over {args.days:g} days: {args.cdc_sources} CDC source(s) "
        f"every {args.save_interval_ms} ms, {args.video_streams} video stream(s) every 2 s"
    )
    rows = [
        ("a week, uncompacted", records, week_bytes, week_s),
        ("compacted (baseline)", len(latest), compacted_bytes, compacted_s),
    ]
    print(f"{'topic':<24}{'records':>12}{'bytes':>15}{'read_latest s':>15}")
    for name, count, size, seconds in rows:
        print(f"{name:<24}{count:>12,}{size:>15,}{seconds:>15.3f}")
    bytes_ratio, read_ratio = week_bytes / compacted_bytes, week_s / compacted_s
    print(f"ratio: {bytes_ratio:,.0f}x the bytes, {read_ratio:,.1f}x the read")


if __name__ == "__main__":
    main()
