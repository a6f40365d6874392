"""The scenario groups: which clients run against a fresh broker, and what is measured.

Each group starts the broker fresh, runs its scenarios one after the other on a topic it creates,
and stops the broker (always). A row is a dict; the report and --json use the same keys.
CPU figures: the broker's from /proc/PID/stat, each client's own (process_time or rusage), and
`other_cores`, what the rest of the machine used meanwhile (other sessions, kernel threads).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from _clients import VALUE_SIZE, Result
from _harness import Broker, Reaper, machine_cpu_seconds
from _wire import Connection

GROUPS = ("1p", "6p", "librdkafka", "latency")
TOPIC = "bench"


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


def summarize(name: str, results: list[Result], cpu: tuple[float, float, float]) -> dict:
    """One row from the workers' results and the (broker, machine busy, steal) CPU deltas."""
    broker_cpu, busy, steal = cpu
    client_cpu = sum(r.cpu for r in results)
    records = sum(r.records for r in results)
    span = max(r.end for r in results) - min(r.start for r in results)
    nbytes = sum(r.nbytes for r in results)
    row: dict[str, Any] = {
        "scenario": name,
        "records": records,
        "seconds": span,
        "records_per_s": records / span,
        "mb_per_s": records * VALUE_SIZE / span / 1e6,
        "wire_bytes": nbytes,
        "wire_mb_per_s": nbytes / span / 1e6 if nbytes else None,
        "errors": sum(r.errors for r in results),
        "broker_cores": broker_cpu / span,
        "broker_us_per_record": broker_cpu / max(records, 1) * 1e6,
        "client_us_per_record": client_cpu / max(records, 1) * 1e6,
        "client_processes": len(results),
        "other_cores": max(0.0, busy - broker_cpu - client_cpu) / span,
        "steal_cores": steal / span,
    }
    latencies = sorted(x for r in results for x in r.latencies)
    if latencies:

        def pct(q: float) -> float:
            return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

        row.update(p50_ms=pct(0.50), p99_ms=pct(0.99), p999_ms=pct(0.999), max_ms=pct(1.0))
        row["note"] = "; ".join(r.note for r in results if r.note)
    return row


def _cpu_probe(broker: Broker) -> tuple[float, float, float]:
    return (broker.cpu(), *machine_cpu_seconds())


def _delta(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float, float]:
    x, y, z = (q - p for p, q in zip(a, b, strict=True))
    return x, y, z


def measure(reaper: Reaper, broker: Broker, name: str, jobs: list, timeout: float) -> dict:
    results, at_go, at_end = reaper.run_workers(jobs, timeout, probe=lambda: _cpu_probe(broker))
    return summarize(name, results, _delta(at_go, at_end))


def measure_command(
    reaper: Reaper, broker: Broker, name: str, argv: list[str], records: int, timeout: float,
    output: Path | None = None,
) -> dict:  # fmt: skip
    before = _cpu_probe(broker)
    start, end, cpu, _ = reaper.run_command(argv, timeout, stdout=output)
    after = _cpu_probe(broker)
    result = Result(records=records, start=start, end=end, cpu=cpu)
    if output is not None:  # a consumer printing one line a record: count what it got
        with output.open("rb") as f:
            result.records = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        if result.records != records:
            raise RuntimeError(f"{argv[0]} returned {result.records} of {records} records")
    return summarize(name, [result], _delta(before, after))


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


def create_topic(broker: Broker, topic: str, partitions: int, deadline_s: float = 30.0) -> None:
    """Create `topic` and wait until every partition has a leader in the broker's metadata (Kafka
    answers CreateTopics before its broker has taken the leadership the controller assigned)."""
    conn = Connection("127.0.0.1", broker.port)
    try:
        conn.create_topic(topic, partitions)
    finally:
        conn.close()
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    end = time.monotonic() + deadline_s
    while True:
        meta = admin.list_topics(topic, timeout=5).topics.get(topic)
        led = [] if meta is None or meta.error else [p for p in meta.partitions.values()]
        if len(led) == partitions and all(p.leader >= 0 and not p.error for p in led):
            return
        if time.monotonic() > end:
            raise RuntimeError(f"{topic}: no leader for every partition in {deadline_s:.0f} s")
        time.sleep(0.05)


def run_group(reaper: Reaper, args: argparse.Namespace, name: str, group: str) -> list[dict]:
    """Start `name` fresh, run `group`'s scenarios, stop it; a failure carries the broker log."""
    broker = reaper.start_broker(name, args.flush)
    try:
        if name not in args.kcat:
            args.kcat[name] = probe_kcat(broker.bootstrap)
        if group == "latency":
            return _latency(reaper, args, broker)
        if group == "librdkafka":
            return _librdkafka(reaper, args, broker)
        return _raw(reaper, args, broker, 1 if group == "1p" else 6)
    except Exception as exc:
        log = broker.log_tail()
        raise RuntimeError(f"{name} {group}: {exc}\n--- broker log ---\n{log}") from exc
    finally:
        reaper.stop_broker(broker)


def _raw(reaper: Reaper, args: argparse.Namespace, broker: Broker, partitions: int) -> list:
    create_topic(broker, TOPIC, partitions)
    where = {"host": "127.0.0.1", "port": broker.port, "topic": TOPIC}
    jobs, per_part = plan(args.records, args.producers, partitions, args.batch_records)
    produce = [
        ("raw-producer", {**where, "partitions": ps, "records": n,
                          "batch_records": args.batch_records, "inflight": args.inflight})
        for n, ps in jobs
    ]  # fmt: skip
    consume = [
        ("raw-consumer", {**where, "partitions": ps, "records": sum(per_part[p] for p in ps),
                          "fetch_max_bytes": 64 << 20, "partition_max_bytes": 16 << 20})
        for ps in consumer_shares(partitions, args.consumers)
    ]  # fmt: skip
    return [
        measure(reaper, broker, f"produce {partitions}p", produce, args.timeout),
        measure(reaper, broker, f"consume {partitions}p", consume, args.timeout),
    ]


def _librdkafka(reaper: Reaper, args: argparse.Namespace, broker: Broker) -> list:
    create_topic(broker, TOPIC, 6)
    where = {"bootstrap": broker.bootstrap, "topic": TOPIC}
    jobs, per_part = plan(args.records, args.producers, 6, 1000)
    produce = [
        ("rdkafka-producer", {**where, "partitions": ps, "records": n, "batch_records": 1000})
        for n, ps in jobs
    ]
    consume = [
        ("rdkafka-consumer", {**where, "partitions": ps, "records": sum(per_part[p] for p in ps)})
        for ps in consumer_shares(6, args.consumers)
    ]
    rows = [
        measure(reaper, broker, "produce 6p librdkafka", produce, args.timeout),
        measure(reaper, broker, "consume 6p librdkafka", consume, args.timeout),
    ]
    if args.kcat.get(broker.name) == "ok":
        rows += _kcat(reaper, args, broker)
    return rows


def _kcat(reaper: Reaper, args: argparse.Namespace, broker: Broker) -> list:
    """kcat -P from a pre-generated file (one 100-byte line a record), then kcat -C."""
    topic = TOPIC + "-kcat"
    create_topic(broker, topic, 6)
    lines = Path(reaper.root) / f"bench-kcat-{args.records}.txt"
    if not lines.exists():
        reaper.temp_paths.append(lines)
        lines.write_bytes((b"x" * VALUE_SIZE + b"\n") * args.records)
    settings = ["acks=all", "enable.idempotence=true", "compression.type=none", "linger.ms=10",
                "batch.num.messages=10000", "batch.size=1000000",
                "queue.buffering.max.messages=1000000"]  # fmt: skip
    base = ["kcat", "-b", broker.bootstrap, "-t", topic, "-q"]
    produce = base + ["-P", "-l", str(lines)] + [x for s in settings for x in ("-X", s)]
    consume = [*base, "-C", "-o", "beginning", "-e", "-c", str(args.records), "-f", "%p\\n",
               "-X", "fetch.max.bytes=67108864",
               "-X", "max.partition.fetch.bytes=16777216"]  # fmt: skip
    out = broker.data_dir / "kcat.out"
    return [
        measure_command(reaper, broker, "produce 6p kcat", produce, args.records, args.timeout),
        measure_command(
            reaper, broker, "consume 6p kcat", consume, args.records, args.timeout, out
        ),
    ]


def _latency(reaper: Reaper, args: argparse.Namespace, broker: Broker) -> list:
    create_topic(broker, TOPIC, 6)
    common = {
        "topic": TOPIC, "partitions": list(range(6)), "rate": args.latency_rate,
        "seconds": args.latency_seconds, "warmup": args.latency_warmup,
    }  # fmt: skip
    rdkafka = {**common, "bootstrap": broker.bootstrap, "linger_ms": args.latency_linger_ms}
    raw = {**common, "host": "127.0.0.1", "port": broker.port}
    return [
        measure(reaper, broker, "latency", [("paced-producer", rdkafka)], args.timeout),
        measure(reaper, broker, "latency raw", [("raw-paced-producer", raw)], args.timeout),
    ]
