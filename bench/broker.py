"""Benchmark of the embedded broker against Tansu (memory-only) and the disk's raw write speed.

    .venv/bin/python bench/broker.py [--records N] [--quick] [--json PATH]

Workload: 100-byte keyless records, acks=all, idempotent producers, no compression, all traffic
on 127.0.0.1. Each scenario group starts each broker fresh (new port, new data directory) and
stops it after; headwater and Tansu run the same clients and the same workload in the same run.

Scenario groups:
  1. produce then consume, 1 partition, raw client (`_wire`: pre-built RecordBatches replayed,
     fresh producer id, sequences and CRC per request; the consumer verifies every batch's CRC)
  2. the same with 6 partitions
  3. the same with 6 partitions through librdkafka (confluent-kafka), the real client
  4. produce latency of one librdkafka producer paced at a fixed rate (default 100k records/s)
Then the disk: the bytes of group 2 written with large os.write calls, with and without fsync.

MB/s counts record values (100 bytes a record), as Kafka's own perf tools do; the CPU table gives
the wire bytes too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _clients import VALUE_SIZE, Result
from _harness import Broker, Reaper, disk_write_speed, machine_cpu_seconds
from _report import render

TARGETS = {"produce": 1_000_000, "consume": 2_000_000, "p99_ms": 5.0, "ratio": 1.0}


def plan(records: int, producers: int, partitions: int, chunk: int) -> tuple[list, dict]:
    """Split `records` over `producers`, each sending `chunk`-record batches round-robin over its
    share of the partitions; return [(records, partitions)] and records per partition."""
    producers = max(1, producers)
    shares = [list(range(partitions))[i::producers] or [i % partitions] for i in range(producers)]
    per_partition = dict.fromkeys(range(partitions), 0)
    jobs = []
    for i, parts in enumerate(shares):
        n = records // producers + (1 if i < records % producers else 0)
        jobs.append((n, parts))
        full, rest = divmod(n, chunk)
        for k in range(full + (1 if rest else 0)):
            per_partition[parts[k % len(parts)]] += chunk if k < full else rest
    return jobs, per_partition


def consumer_shares(partitions: int, consumers: int) -> list[list[int]]:
    consumers = max(1, min(consumers, partitions))
    return [list(range(partitions))[i::consumers] for i in range(consumers)]


def measure(
    reaper: Reaper, broker: Broker, name: str, jobs: list, timeout: float
) -> dict[str, Any]:
    def probe() -> tuple[float, float, float]:
        return (broker.cpu(), *machine_cpu_seconds())

    results, at_go, at_end = reaper.run_workers(jobs, timeout, probe=probe)
    broker_cpu, busy, steal = (b - a for a, b in zip(at_go, at_end, strict=True))
    out = summarize(name, results, broker_cpu)
    # CPU the machine spent on anything but this broker and these clients (other sessions, the
    # kernel's own threads): the benchmark is only meaningful when this stays near zero.
    client_cpu = sum(r.cpu for r in results)
    out["other_cores"] = max(0.0, busy - broker_cpu - client_cpu) / out["seconds"]
    out["steal_cores"] = steal / out["seconds"]
    return out


def summarize(name: str, results: list[Result], broker_cpu: float) -> dict[str, Any]:
    records = sum(r.records for r in results)
    span = max(r.end for r in results) - min(r.start for r in results)
    out: dict[str, Any] = {
        "scenario": name,
        "records": records,
        "seconds": span,
        "records_per_s": records / span,
        "mb_per_s": records * VALUE_SIZE / span / 1e6,
        "wire_mb_per_s": sum(r.nbytes for r in results) / span / 1e6 or None,
        "wire_bytes": sum(r.nbytes for r in results),
        "errors": sum(r.errors for r in results),
        "broker_cores": broker_cpu / span,
        "broker_us_per_record": broker_cpu / max(records, 1) * 1e6,
        "client_us_per_record": sum(r.cpu for r in results) / max(records, 1) * 1e6,
        "client_processes": len(results),
    }
    latencies = sorted(x for r in results for x in r.latencies)
    if latencies:

        def pct(q: float) -> float:
            return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

        out.update(p50_ms=pct(0.50), p99_ms=pct(0.99), p999_ms=pct(0.999), max_ms=pct(1.0))
        out["note"] = "; ".join(r.note for r in results if r.note)
    return out


def run_broker_group(reaper: Reaper, args: argparse.Namespace, name: str, group: str) -> list:
    broker = reaper.start_broker(name, args.flush)
    host, port, topic = "127.0.0.1", broker.port, "bench"
    deadline = args.timeout
    try:
        if name not in args.kcat:
            args.kcat[name] = probe_kcat(broker.bootstrap)
        if group == "latency":
            _create(host, port, topic, 6)
            common = {
                "topic": topic, "partitions": list(range(6)), "rate": args.latency_rate,
                "seconds": args.latency_seconds, "warmup": args.latency_warmup,
            }  # fmt: skip
            rdkafka = {**common, "bootstrap": broker.bootstrap,
                       "linger_ms": args.latency_linger_ms}  # fmt: skip
            raw = {**common, "host": host, "port": port}
            return [
                measure(reaper, broker, "latency", [("paced-producer", rdkafka)], deadline),
                measure(reaper, broker, "latency raw", [("raw-paced-producer", raw)], deadline),
            ]
        partitions = 1 if group == "1p" else 6
        _create(host, port, topic, partitions)
        rows = []
        if group in ("1p", "6p"):
            jobs, per_part = plan(args.records, args.producers, partitions, args.batch_records)
            produce = [
                ("raw-producer", {"host": host, "port": port, "topic": topic, "partitions": ps,
                                  "records": n, "batch_records": args.batch_records,
                                  "inflight": args.inflight})
                for n, ps in jobs
            ]  # fmt: skip
            rows.append(measure(reaper, broker, f"produce {group}", produce, deadline))
            consume = [
                ("raw-consumer", {"host": host, "port": port, "topic": topic, "partitions": ps,
                                  "records": sum(per_part[p] for p in ps),
                                  "fetch_max_bytes": 64 << 20, "partition_max_bytes": 16 << 20})
                for ps in consumer_shares(partitions, args.consumers)
            ]  # fmt: skip
            rows.append(measure(reaper, broker, f"consume {group}", consume, deadline))
        else:
            jobs, per_part = plan(args.records, args.producers, partitions, 1000)
            produce = [
                ("rdkafka-producer", {"bootstrap": broker.bootstrap, "topic": topic,
                                      "partitions": ps, "records": n, "batch_records": 1000})
                for n, ps in jobs
            ]  # fmt: skip
            rows.append(measure(reaper, broker, "produce 6p librdkafka", produce, deadline))
            consume = [
                ("rdkafka-consumer", {"bootstrap": broker.bootstrap, "topic": topic,
                                      "partitions": ps, "records": sum(per_part[p] for p in ps)})
                for ps in consumer_shares(partitions, args.consumers)
            ]  # fmt: skip
            rows.append(measure(reaper, broker, "consume 6p librdkafka", consume, deadline))
        return rows
    except Exception as exc:
        log = broker.log_tail()
        raise RuntimeError(f"{name} {group}: {exc}\n--- broker log ---\n{log}") from exc
    finally:
        reaper.stop_broker(broker)


def probe_kcat(bootstrap: str) -> str:
    """Whether Debian's kcat (its own, older librdkafka) can read this broker's metadata."""
    kcat = shutil.which("kcat")
    if kcat is None:
        return "not installed"
    try:
        out = subprocess.run(
            [kcat, "-b", bootstrap, "-L", "-m", "2"], capture_output=True, text=True, timeout=15
        )
    except subprocess.TimeoutExpired:
        return "timed out reading metadata"
    if out.returncode == 0:
        return "ok"
    lines = [x for x in out.stderr.splitlines() if "ApiVersion" in x or "ERROR" in x]
    return "fails: " + (lines[0].split(": ", 2)[-1] if lines else f"exit {out.returncode}")


def _create(host: str, port: int, topic: str, partitions: int) -> None:
    from _wire import Connection

    conn = Connection(host, port)
    try:
        conn.create_topic(topic, partitions)
    finally:
        conn.close()


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=5_000_000, help="records per scenario")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--brokers", default="headwater,tansu", help="comma-separated")
    parser.add_argument("--groups", default="1p,6p,librdkafka,latency", help="comma-separated")
    parser.add_argument("--flush", default="interval", choices=["never", "interval", "always"],
                        help="headwater's --flush policy")  # fmt: skip
    parser.add_argument("--producers", type=int, default=2, help="producer processes")
    parser.add_argument("--consumers", type=int, default=2, help="consumer processes (max)")
    parser.add_argument("--batch-records", type=int, default=8192, help="records per batch")
    parser.add_argument("--inflight", type=int, default=5, help="requests in flight (raw)")
    parser.add_argument("--latency-rate", type=int, default=100_000, help="records/s")
    parser.add_argument("--latency-seconds", type=float, default=8.0)
    parser.add_argument("--latency-warmup", type=float, default=1.0)
    parser.add_argument("--latency-linger-ms", type=float, default=0.0)
    parser.add_argument("--timeout", type=float, default=180.0, help="hard limit per scenario (s)")
    parser.add_argument("--data-root", type=Path, default=Path(tempfile.gettempdir()),
                        help="where data directories and the disk test file go")  # fmt: skip
    args = parser.parse_args(argv)
    args.kcat = {}
    if args.quick:
        args.records = min(args.records, 200_000)
        args.latency_seconds, args.latency_warmup = 1.5, 0.5
        args.timeout = min(args.timeout, 60.0)

    brokers = [b.strip() for b in args.brokers.split(",") if b.strip()]
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    results: dict[str, dict[str, dict[str, Any]]] = {b: {} for b in brokers}
    failures: dict[str, str] = {}
    reaper = Reaper(args.data_root)
    started = time.monotonic()
    try:
        for group in groups:
            for name in brokers:
                print(f"[{time.monotonic() - started:6.1f}s] {name}: {group}", file=sys.stderr)
                try:
                    for row in run_broker_group(reaper, args, name, group):
                        results[name][row["scenario"]] = row
                except Exception as exc:
                    failures[f"{name} {group}"] = str(exc)
                    print(f"FAILED {name} {group}: {exc}", file=sys.stderr)
        nbytes, root = _disk_bytes(results, args.records), args.data_root
        disk = {
            "bytes": nbytes,
            "mb_per_s_no_fsync": max(disk_write_speed(root, nbytes, fsync=False) for _ in "ab"),
            "mb_per_s_fsync": max(disk_write_speed(root, nbytes, fsync=True) for _ in "ab"),
            "directory": str(args.data_root),
        }
    except KeyboardInterrupt:
        print("interrupted: stopping everything this run started", file=sys.stderr)
        return 130
    finally:
        reaper.close()

    report = {
        "machine": machine(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "targets": TARGETS,
        "results": results,
        "disk": disk,
        "failures": failures,
        "kcat": ", ".join(f"{b} {v}" for b, v in args.kcat.items()),
        "seconds": time.monotonic() - started,
    }
    render(report, brokers)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if failures else 0


def _disk_bytes(results: dict[str, dict[str, dict[str, Any]]], records: int) -> int:
    for per_broker in results.values():
        row = per_broker.get("produce 6p") or per_broker.get("produce 1p")
        if row:
            return int(row["wire_bytes"])
    return records * 110


if __name__ == "__main__":
    sys.exit(main())
