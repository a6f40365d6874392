"""Benchmark of `_headwater.positions` compaction: the topic's size and the position reader's start
time after a simulated week of CDC position saves, before and after the broker's log cleaner ran.

    .venv/bin/python bench/positions.py [--days 7] [--rate 5] [--sources 4] [--segment-ms MS]
                                        [--repeat 2] [--json PATH]

One embedded broker (`headwater broker`, private port and data directory), three starts:

  save      `--days` of saves at `--rate` a second in all (5/s for 7 days = 3,024,000 records),
            round robin over `--sources` sources (half MySQL/MariaDB GTID + file/pos, half
            PostgreSQL LSN + txId), into the topic as `positions.ensure_topic` creates it
            (cleanup.policy=compact, segment.ms 1 h, segment.bytes 16 MiB), each record stamped
            with its simulated save time. Produced batched (linger 50 ms) to keep the run short:
            CDC saves one record per batch, so the real topic is larger by ~60 bytes a save.
  before    a restart with the cleaner idle (--log-cleaner-backoff-ms of a day): the topic's bytes
            on disk and the time `read_position` (`headwater.sources.positions.load_cdc`)
            takes for one source, best of --repeat.
  after     a restart with the cleaner running every 200 ms: it rolls the week-old active segment
            (segment.ms) and compacts; once its `log_cleaned` line covers the log end, the same
            measurements. The positions read must be the same as before.

Ratios are after / before, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from tests.conftest import BrokerProcess  # noqa: E402

from headwater import transport  # noqa: E402
from headwater.contracts import positions as formats  # noqa: E402
from headwater.contracts.topics import POSITIONS  # noqa: E402
from headwater.sources import positions  # noqa: E402

DAY_MS = 86_400_000
IDLE_CLEANER = ["--log-cleaner-backoff-ms", str(DAY_MS)]
BUSY_CLEANER = ["--log-cleaner-backoff-ms", "200"]


def read_position(bootstrap: str, source: str) -> tuple[Any, float]:
    """(position, seconds) of one start-up read: the only call into the position store's API."""
    conn = transport.connect(bootstrap)
    started = time.perf_counter()
    found = positions.load_cdc(conn, source)
    return found, time.perf_counter() - started


def _position(source_index: int, n: int) -> dict[str, Any]:
    if source_index % 2 == 0:
        gtid = f"3e11fa47-71ca-11e1-9e33-c80aa94295{source_index:02d}:1-{n}"
        return {"gtid": gtid, "file": f"mysql-bin.{n // 500_000:06d}", "pos": 4 + n * 317}
    return {"lsn": f"{n >> 20:X}/{(n * 1187) & 0xFFFFFFFF:X}", "txId": 740 + n}


def save_week(
    bootstrap: str, days: float, rate: float, sources: int, segment_ms: int | None
) -> tuple[int, float]:
    """Produce the simulated saves; (records, seconds)."""
    conn = transport.connect(bootstrap)
    with conn.admin() as admin:
        if segment_ms is not None:  # created first: ensure_topic then finds it
            config = {"cleanup.policy": "compact", "segment.ms": str(segment_ms)}
            admin.create_topics([transport.TopicSpec(POSITIONS, 1, config=config)])
        positions.ensure_topic(admin)
    total = int(days * 86_400 * rate)
    step_ms = 1000 / rate
    # the week ends an hour ago: the batches here span minutes where CDC's span one save, and a
    # segment's age (segment.ms) counts from its first batch's newest timestamp, as Kafka's does
    start_ms = int(time.time() * 1000 - days * DAY_MS - 3_600_000)
    names = [f"source-{i}" for i in range(sources)]
    keys = [formats.cdc_key(name) for name in names]
    connectors = ["mysql" if i % 2 == 0 else "postgresql" for i in range(sources)]
    options = transport.ProducerOptions(
        linger_ms=50, extra={"batch.num.messages": 10_000, "batch.size": 1_000_000}
    )
    encode = formats.encode_cdc
    started = time.perf_counter()
    with conn.producer(options) as producer:
        for n in range(total):
            i = n % sources
            ts = start_ms + int(n * step_ms)
            value = encode(names[i], connectors[i], _position(i, n // sources), ts)
            producer.produce(POSITIONS, value, key=keys[i], timestamp_ms=ts)
        left = producer.flush(300)
    if left:
        raise RuntimeError(f"{left} saves were not acknowledged")
    return total, time.perf_counter() - started


def topic_on_disk(data_dir: Path) -> tuple[int, int]:
    """(bytes, segments) of the positions topic's partition 0."""
    logs = list((data_dir / "logs" / f"{POSITIONS}-0").glob("*.log"))
    return sum(p.stat().st_size for p in logs), len(logs)


def measure(broker: BrokerProcess, source: str, repeat: int) -> dict[str, Any]:
    size, segments = topic_on_disk(broker.data_dir)
    runs = [read_position(broker.bootstrap, source) for _ in range(repeat)]
    return {
        "bytes": size,
        "segments": segments,
        "read_s": min(seconds for _, seconds in runs),
        "position": runs[0][0],
    }


def wait_for_clean(broker: BrokerProcess, end_offset: int, deadline_s: float) -> dict[str, Any]:
    """The broker's `log_cleaned` line for the topic that covers `end_offset`."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for line in broker.log_text().splitlines():
            if '"log_cleaned"' in line and POSITIONS in line:
                event: dict[str, Any] = json.loads(line)
                if event["cleaned_to"] >= end_offset:
                    return event
        time.sleep(0.2)  # polling the broker's log with a deadline
    raise TimeoutError(f"no log_cleaned event up to offset {end_offset} in {deadline_s} s")


def report(result: dict[str, Any]) -> Table:
    before, after = result["before"], result["after"]
    table = Table(
        title=f"{POSITIONS} after {result['days']:g} days of saves at {result['rate']:g}/s "
        f"({result['records']:,} records, {result['sources']} sources), before and after "
        "compaction"
    )
    for col in ("measure", "before", "after", "after/before"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    rows = [
        ("topic bytes on disk", "bytes", "{:,.0f}"),
        ("segments", "segments", "{:,.0f}"),
        ("reader start (positions.load_cdc), s", "read_s", "{:.3f}"),
    ]
    for label, key, fmt in rows:
        ratio = after[key] / before[key] if before[key] else float("nan")
        table.add_row(label, fmt.format(before[key]), fmt.format(after[key]), f"{ratio:.2g}x")
    clean = result["clean"]
    table.caption = (
        f"saves produced in {result['save_s']:.1f} s; the cleaning pass took "
        f"{clean['duration_ms'] / 1000:.1f} s and removed {clean['records_removed']:,} records"
    )
    return table


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--days", type=float, default=7.0)
    p.add_argument("--rate", type=float, default=5.0, help="saves per second, all sources")
    p.add_argument("--sources", type=int, default=4)
    p.add_argument("--repeat", type=int, default=2, help="reads per measurement (best kept)")
    p.add_argument(
        "--segment-ms",
        type=int,
        help="create the topic with this segment.ms (default: as ensure_topic does, so the "
        "broker's 7 days; runs shorter than that need it, or nothing is ever cleanable)",
    )
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the broker
    with tempfile.TemporaryDirectory(prefix="bench-positions-") as tmp:
        data_dir = Path(tmp) / "broker"
        broker = BrokerProcess(data_dir=data_dir, extra_args=IDLE_CLEANER).start()
        try:
            records, save_s = save_week(
                broker.bootstrap, args.days, args.rate, args.sources, args.segment_ms
            )
            broker.restart()
            before = measure(broker, "source-0", args.repeat)
            broker.stop()
            broker.extra_args = BUSY_CLEANER
            broker.start()
            clean = wait_for_clean(broker, records, deadline_s=600)
            after = measure(broker, "source-0", args.repeat)
        finally:
            broker.stop()
    if before["position"] != after["position"]:
        raise AssertionError(f"compaction changed the position: {before} != {after}")
    result = {
        "days": args.days,
        "rate": args.rate,
        "sources": args.sources,
        "records": records,
        "save_s": save_s,
        "before": before,
        "after": after,
        "clean": {k: clean[k] for k in ("duration_ms", "records_removed", "bytes_before")},
    }
    Console().print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    main()
