"""Benchmark of the lake sink: rows/s from the broker into Delta, against the Parquet limit.

    .venv/bin/python bench/sink.py [--records N] [--quick] [--json PATH]

Workload: enriched ClickEvents (`_clicks.py`, ~960 bytes of JSON each) produced to
`clickstream.events` (4 partitions) on a fresh embedded broker, then landed by the sink.

Throughput, all in this process, one after the other on the same records:
  sink      `headwater.sink.Sink` (consumer group, convert, exactly-once Delta commits) from the
            assignment until every partition's txn version reached its end offset
  stages    the same records through each stage alone, in the sink's batch size: consume
            (`consume_columns`), convert (`lake.convert.Converter`), Delta append
            (`write_deltalake` of the converted tables)
  limit     the same Arrow tables written straight to Parquet with pyarrow (`pq.write_table`):
            what writing the data costs at all; the sink's ratio against it is printed

Freshness: a fresh broker and a `headwater sink` subprocess (`--max-age-s`, default 0.5 s); one
producer sends at `--fresh-rate` records/s for `--fresh-seconds`; each record's latency runs from
its delivery report (acks=all) to the first poll of the Delta log (every 20 ms) at which its
partition's txn version covers its offset: that version's rows are queryable.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake

import headwater.transport as hwt
from _clicks import click_value
from _harness import PYTHON, ROOT, Reaper, machine_cpu_seconds
from headwater.lake import txn
from headwater.lake.convert import Converter
from headwater.lake.tables import CLICKSTREAM_EVENTS
from headwater.sink.buffer import Batch, TopicBuffer
from headwater.sink.runner import Sink, SinkConfig
from headwater.sink.topic import FlushReport

TOPIC = CLICKSTREAM_EVENTS.topic
TARGETS = {"rows_per_s": 1_000_000, "p99_s": 2.0}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--records", type=int, default=400_000)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--max-rows", type=int, default=100_000, help="the sink's batch size")
    p.add_argument("--fresh-rate", type=int, default=5_000, help="records/s (freshness)")
    p.add_argument("--fresh-seconds", type=float, default=20.0)
    p.add_argument("--fresh-max-age-s", type=float, default=0.5, help="the sink's --max-age-s")
    p.add_argument("--quick", action="store_true", help="a smoke run (~30 s)")
    p.add_argument("--skip", default="", help="comma-separated: throughput, freshness")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    if args.quick:
        args.records, args.fresh_seconds, args.max_rows = 40_000, 5.0, 20_000
    return args


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def produce(bootstrap: str, first: int, last: int) -> int:
    """Records first..last-1 (keyed by session); returns their value bytes."""
    total = 0
    with hwt.connect(bootstrap) as t, t.producer() as producer:
        for i in range(first, last):
            value = click_value(i)
            total += len(value)
            producer.produce(TOPIC, value, key=b"sess-%d" % ((i // 20) % 2000))
        if producer.flush(120):
            raise RuntimeError("records left undelivered")
    return total


def ends(bootstrap: str, partitions: int) -> dict[int, int]:
    with hwt.connect(bootstrap) as t, t.consumer("bench-probe") as probe:
        return {p: probe.watermarks(hwt.TopicPartition(TOPIC, p))[1] for p in range(partitions)}


def landed(table: Path, group: str, end: dict[int, int]) -> bool:
    try:
        dt = DeltaTable(str(table))
    except Exception:
        return False
    return all(
        dt.transaction_version(txn.app_id(group, TOPIC, p)) == e - 1
        for p, e in end.items()
        if e > 0
    )


class TimedSink(Sink):
    """The sink, noting when partitions were first assigned and what each flush took: (rows,
    seconds, monotonic end, whether the batch was full: `max_rows` or `max_bytes`, not age)."""

    assigned_at: float | None = None
    flushes: list[tuple[int, float, float, bool]]
    full: list[bool]  # of the batches handed to the flush thread, not yet reported

    def _on_assign(self, parts: list[hwt.TopicPartition]) -> Any:
        if self.assigned_at is None:
            self.assigned_at = time.monotonic()
        return super()._on_assign(parts)

    def _flush(self, buffer: TopicBuffer) -> Any:
        cfg = self.config
        full = len(buffer) >= cfg.max_rows or buffer.bytes >= cfg.max_bytes
        if not hasattr(Sink, "_flushed"):  # a sink that flushes in its own thread (before 2026-11)
            started = time.monotonic()
            report = super()._flush(buffer)
            done = time.monotonic()
            self.flushes.append((report.rows, done - started, done, full))
            return report
        self.full.append(full)
        return super()._flush(buffer)

    def _flushed(self, batch: Batch, report: FlushReport) -> None:
        super()._flushed(batch, report)
        self.flushes.append((report.rows, report.seconds, time.monotonic(), self.full.pop(0)))


def busy_s() -> float:
    return machine_cpu_seconds()[0]


def run_sink(
    bootstrap: str,
    broker_cpu: Callable[[], float],
    lake: Path,
    args: argparse.Namespace,
    end: dict[int, int],
) -> dict:
    """The sink from the first assignment until every record landed."""
    group = "bench-sink"
    config = SinkConfig(lake=lake, group=group, max_rows=args.max_rows, max_age_s=5.0)
    with hwt.connect(bootstrap) as transport:
        sink = TimedSink(transport, config)
        sink.flushes, sink.full = [], []
        thread = threading.Thread(target=sink.run, name="sink")
        started, cpu0, broker0, machine0 = time.monotonic(), cpu_s(), broker_cpu(), busy_s()
        thread.start()
        table = lake / CLICKSTREAM_EVENTS.name
        deadline = started + 600
        while not landed(table, group, end):
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sink stopped or took too long")
            time.sleep(0.2)
        done, cpu1, broker1, machine1 = time.monotonic(), cpu_s(), broker_cpu(), busy_s()
        sink.stop()
        thread.join(60)
    rows = sum(end.values())
    assert sink.assigned_at is not None
    seconds = done - sink.assigned_at
    # Streaming: the full batches only, up to the last one's commit. The last batch of a run is
    # seldom full and waits for `max_age_s` (5 s), which the figure above includes.
    full = [(n, at) for n, _, at, is_full in sink.flushes if is_full]
    streaming = sum(n for n, _ in full) / (full[-1][1] - sink.assigned_at) if full else 0.0
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "join_s": sink.assigned_at - started,
        "cores": (cpu1 - cpu0) / (done - started),
        "cpu_us": 1e6 * (cpu1 - cpu0) / rows,
        "broker_cores": (broker1 - broker0) / (done - started),
        "other_cores": ((machine1 - machine0) - (cpu1 - cpu0) - (broker1 - broker0))
        / (done - started),
        "commits": len(sink.flushes),
        "flush_s_per_100k": 1e5 * sum(f[1] for f in sink.flushes) / max(1, rows),
        "streaming_rows_per_s": streaming,
        "full_commits": len(full),
    }


def run_stages(bootstrap: str, work: Path, args: argparse.Namespace, end: dict[int, int]) -> dict:
    """Each stage alone on the same records, in the sink's batch size; the Parquet limit."""
    total = sum(end.values())
    batches: list[hwt.RecordColumns] = []
    with hwt.connect(bootstrap) as t, t.consumer("bench-stages") as consumer:
        consumer.assign([hwt.TopicPartition(TOPIC, p, hwt.EARLIEST) for p in end])
        got, started, cpu0 = 0, time.monotonic(), cpu_s()
        current = hwt.RecordColumns()
        while got < total:
            cols = consumer.consume_columns(10_000, 1.0)
            got += len(cols)
            for name in ("topic", "partition", "offset", "key", "value", "timestamp_ms"):
                getattr(current, name).extend(getattr(cols, name))
            if len(current) >= args.max_rows or got >= total:
                batches.append(current)
                current = hwt.RecordColumns()
        consume_s = time.monotonic() - started
    consume_cpu = cpu_s() - cpu0
    converter = Converter(CLICKSTREAM_EVENTS)
    schema = CLICKSTREAM_EVENTS.schema
    started, cpu0 = time.monotonic(), cpu_s()
    tables = [
        converter.convert(b.value, b.partition, b.offset, b.timestamp_ms, schema).table
        for b in batches
    ]
    convert_s, convert_cpu = time.monotonic() - started, cpu_s() - cpu0
    converter.close()
    assert sum(t.num_rows for t in tables) == total

    out = work / "parquet"
    out.mkdir()
    started, cpu0 = time.monotonic(), cpu_s()
    for n, table in enumerate(tables):
        pq.write_table(table, out / f"part-{n:05d}.parquet")
    parquet_s, parquet_cpu = time.monotonic() - started, cpu_s() - cpu0
    parquet_bytes = sum(f.stat().st_size for f in out.iterdir())

    delta = work / "delta"
    started, cpu0 = time.monotonic(), cpu_s()
    for table in tables:
        write_deltalake(str(delta), table, mode="append", partition_by=["event_date"])
    delta_s, delta_cpu = time.monotonic() - started, cpu_s() - cpu0
    us = 1e6 / total
    return {
        "consume_cpu_us": consume_cpu * us,
        "convert_cpu_us": convert_cpu * us,
        "delta_cpu_us": delta_cpu * us,
        "parquet_cpu_us": parquet_cpu * us,
        "consume_rows_per_s": total / consume_s,
        "convert_rows_per_s": total / convert_s,
        "delta_rows_per_s": total / delta_s,
        "parquet_rows_per_s": total / parquet_s,
        "parquet_mb": parquet_bytes / 1e6,
        "batches": len(tables),
    }


def run_freshness(reaper: Reaper, work: Path, args: argparse.Namespace) -> dict:
    """Producer acknowledgement → row queryable in Delta, per record, at a steady rate."""
    broker = reaper.start_broker("headwater", "interval")
    with hwt.connect(broker.bootstrap) as t:
        t.admin().create_topics([hwt.TopicSpec(TOPIC, args.partitions)])
    lake = work / "fresh-lake"
    group = "bench-fresh"
    log_path = work / "fresh-sink.log"
    cmd = [str(PYTHON), "-m", "headwater", "sink", "--broker", broker.bootstrap, "--lake",
           str(lake), "--group", group, "--max-age-s", str(args.fresh_max_age_s),
           "--log-level", "warning"]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    reaper.commands.append(proc)
    table = lake / CLICKSTREAM_EVENTS.name
    acks: list[tuple[int, int, float]] = []  # partition, offset, ack time
    seen: dict[int, list[tuple[float, int]]] = {p: [] for p in range(args.partitions)}
    stop = threading.Event()

    def watch() -> None:
        dt = None
        last = dict.fromkeys(seen, -1)
        while not stop.is_set():
            try:
                if dt is None:
                    dt = DeltaTable(str(table))
                else:
                    dt.update_incremental()
            except Exception:
                time.sleep(0.02)
                continue
            now = time.monotonic()
            for p in seen:
                v = dt.transaction_version(txn.app_id(group, TOPIC, p))
                if v is not None and v > last[p]:
                    seen[p].append((now, v))
                    last[p] = v
            time.sleep(0.02)

    def on_delivery(d: hwt.Delivery) -> None:
        if d.ok:
            acks.append((d.partition, d.offset, time.monotonic()))

    watcher = threading.Thread(target=watch, name="watch", daemon=True)
    try:
        with hwt.connect(broker.bootstrap) as t, t.producer() as producer:
            # Warm up: the sink joins its group and creates the table before we measure.
            for i in range(100):
                producer.produce(TOPIC, click_value(i), key=b"warm-%d" % i)
            producer.flush(30)
            deadline = time.monotonic() + 120
            while not landed(table, group, ends(broker.bootstrap, args.partitions)):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("sink not ready:\n" + log_path.read_text()[-2000:])
                time.sleep(0.1)
            watcher.start()
            n = int(args.fresh_rate * args.fresh_seconds)
            started = time.monotonic()
            tick = 0.01
            per_tick = max(1, int(args.fresh_rate * tick))
            i = 100
            while i < 100 + n:
                for _ in range(per_tick):
                    producer.produce(TOPIC, click_value(i), key=b"s-%d" % (i % 997),
                                     on_delivery=on_delivery)  # fmt: skip
                    i += 1
                producer.poll(0)
                behind = started + (i - 100) / args.fresh_rate - time.monotonic()
                if behind > 0:
                    time.sleep(behind)
            producer.flush(60)
        end = ends(broker.bootstrap, args.partitions)
        deadline = time.monotonic() + 60
        while any((seen[p][-1][1] if seen[p] else -1) < end[p] - 1 for p in end if end[p]):
            if time.monotonic() > deadline:
                raise RuntimeError("records did not land")
            time.sleep(0.05)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        reaper.stop_broker(broker)
    latencies = []
    for p, offset, acked in acks:
        visible = next(t for t, v in seen[p] if v >= offset)
        latencies.append(max(0.0, visible - acked))
    latencies.sort()

    def q(x: float) -> float:
        return latencies[min(len(latencies) - 1, int(x * len(latencies)))]

    return {
        "records": len(latencies),
        "rate": args.fresh_rate,
        "max_age_s": args.fresh_max_age_s,
        "p50_s": q(0.50),
        "p99_s": q(0.99),
        "max_s": latencies[-1],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    work = Path(tempfile.mkdtemp(prefix="bench-sink-"))
    reaper = Reaper(work)
    results: dict[str, Any] = {"records": args.records, "max_rows": args.max_rows}
    try:
        if "throughput" not in skip:
            broker = reaper.start_broker("headwater", "interval")
            with hwt.connect(broker.bootstrap) as t:
                t.admin().create_topics([hwt.TopicSpec(TOPIC, args.partitions)])
            started = time.monotonic()
            value_bytes = produce(broker.bootstrap, 0, args.records)
            print(f"produced {args.records:,} records, {value_bytes / args.records:.0f} B a value,"
                  f" in {time.monotonic() - started:.1f} s", flush=True)  # fmt: skip
            end = ends(broker.bootstrap, args.partitions)
            results["value_bytes"] = value_bytes / args.records
            results["sink"] = run_sink(broker.bootstrap, broker.cpu, work / "lake", args, end)
            print(f"sink: {results['sink']}", flush=True)
            results["stages"] = run_stages(broker.bootstrap, work, args, end)
            print(f"stages: {results['stages']}", flush=True)
            reaper.stop_broker(broker)
        if "freshness" not in skip:
            results["freshness"] = run_freshness(reaper, work, args)
            print(f"freshness: {results['freshness']}", flush=True)
    finally:
        reaper.close()
        shutil.rmtree(work, ignore_errors=True)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def report(r: dict[str, Any]) -> str:
    lines = [f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}"]
    if "sink" in r:
        s, st = r["sink"], r["stages"]
        limit = st["parquet_rows_per_s"]
        lines += [
            f"{'path':<38} {'rows/s':>10} {'vs Parquet':>10} {'CPU us/row':>10}",
            *(
                f"{name:<38} {v:>10,.0f} {v / limit:>9.3f}x {us:>10.1f}"
                for name, v, us in (
                    ("sink (broker -> Delta, exactly once)", s["rows_per_s"], s["cpu_us"]),
                    ("  consume_columns alone", st["consume_rows_per_s"], st["consume_cpu_us"]),
                    (
                        "  convert (JSON -> Arrow) alone",
                        st["convert_rows_per_s"],
                        st["convert_cpu_us"],
                    ),
                    ("  write_deltalake alone", st["delta_rows_per_s"], st["delta_cpu_us"]),
                    ("Parquet write of the same tables", limit, st["parquet_cpu_us"]),
                )
            ),
            f"sink: {s['rows']:,} rows in {s['seconds']:.1f} s after a {s['join_s']:.1f} s "
            f"group join, {s['commits']} commits; streaming (full batches, to the last one's "
            f"commit: {s['full_commits']}) {s['streaming_rows_per_s']:,.0f} rows/s; sink "
            f"{s['cores']:.2f} cores, broker "
            f"{s['broker_cores']:.2f}, other load {s['other_cores']:.2f}; target "
            f"{TARGETS['rows_per_s']:,} rows/s: {'met' if s['rows_per_s'] >= 1e6 else 'not met'}",
        ]
    if "freshness" in r:
        f = r["freshness"]
        lines.append(
            f"freshness (ack -> queryable) at {f['rate']:,} rec/s, --max-age-s {f['max_age_s']}: "
            f"p50 {f['p50_s']:.2f} s, p99 {f['p99_s']:.2f} s, max {f['max_s']:.2f} s over "
            f"{f['records']:,} records; target p99 <= {TARGETS['p99_s']} s: "
            f"{'met' if f['p99_s'] <= TARGETS['p99_s'] else 'not met'}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
