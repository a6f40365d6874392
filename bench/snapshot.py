"""Snapshot benchmark: rows/s from a table into the lake, against the databases' own dump tools.

    .venv/bin/python bench/snapshot.py [--rows N] [--repeat N] [--workers N] [--json PATH]

Starts a private PostgreSQL 15 and MariaDB (the test helpers in tests/sources/cdc/databases.py),
fills the same table in both — `bench_rows (id bigint primary key, amount numeric(12,2),
name text, created timestamp, flag smallint)` — and times, in the same run, interleaved:

  pg_dump -t bench_rows (plain SQL, COPY data) to a file   vs  headwater snapshot from PostgreSQL
  mysqldump --single-transaction bench_rows to a file        vs  headwater snapshot from MariaDB

headwater's time is the whole command's work: consistent snapshot, catalog, chunked reads, one
Delta version written (Parquet, snappy). Each row keeps its best of --repeat runs. The ratio is
dump time / headwater time (above 1: headwater is faster). A second table splits each best run's
CPU seconds between the database server (PostgreSQL: the postmaster's reaped children; MariaDB:
mariadbd) and the client (the dump tool, or this process), against the machine's cores: a run
cannot take less than total CPU / cores. Default 1,000,000 rows (10,000,000 takes
minutes to generate on 2 cores; pass --rows 10000000 for the issue's size).
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
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sources.cdc import databases  # noqa: E402
from tests.sources.cdc.databases import (  # noqa: E402
    PG_SUPERUSER_PASSWORD,
    MariaDbServer,
    PostgresServer,
)

from headwater.sources.snapshot import open_snapshot, run_snapshot  # noqa: E402

PG_TARGET_ROWS_S = 1_000_000


def fill_postgres(server: PostgresServer, rows: int) -> None:
    server.execute("CREATE DATABASE bench", db="postgres")
    server.execute(
        "CREATE TABLE bench_rows (id bigint PRIMARY KEY, amount numeric(12,2), name text, "
        "created timestamp, flag smallint)",
        f"INSERT INTO bench_rows SELECT g, (g % 100000) / 100.0, 'name-' || g, "
        f"timestamp '2024-01-01' + g * interval '1 second', g % 2 "
        f"FROM generate_series(1, {rows}) g",
        "VACUUM ANALYZE bench_rows",
        db="bench",
    )


def fill_mariadb(server: MariaDbServer, rows: int) -> None:
    server.execute("CREATE DATABASE bench")
    server.execute(
        "CREATE TABLE bench_rows (id bigint PRIMARY KEY, amount decimal(12,2), "
        "name varchar(40), created datetime(6), flag smallint)",
        f"INSERT INTO bench_rows SELECT seq, (seq % 100000) / 100, CONCAT('name-', seq), "
        f"'2024-01-01' + INTERVAL seq SECOND, seq % 2 FROM seq_1_to_{rows}",
        "ANALYZE TABLE bench_rows",
        db="bench",
    )


def process_cpu(pid: int) -> float:
    """CPU seconds of a process and of its children it has reaped (a server's backends)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """CPU seconds of this process (every thread) and of its reaped children (the dump tools)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(action: Any, server_pid: int, cpu: list[tuple[float, float]]) -> float:
    """Wall seconds of `action`; appends its (server, client) CPU seconds to `cpu`."""
    server, client = process_cpu(server_pid), own_cpu()
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    time.sleep(0.2)  # the server reaps the backends that just closed
    cpu.append((process_cpu(server_pid) - server, own_cpu() - client))
    return seconds


def pg_dump(server: PostgresServer, out: Path) -> None:
    subprocess.run(
        [
            str(databases.PG_BIN / "pg_dump"),
            "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres",
            "-t", "bench_rows", "-f", str(out), "bench",
        ],
        env={**os.environ, "PGPASSWORD": PG_SUPERUSER_PASSWORD},
        check=True,
    )  # fmt: skip


def mysqldump(server: MariaDbServer, out: Path) -> None:
    with out.open("wb") as file:
        subprocess.run(
            [
                "mysqldump", "--no-defaults", "-uroot", f"--socket={server.socket}",
                "--single-transaction", "bench", "bench_rows",
            ],
            stdout=file,
            check=True,
        )  # fmt: skip


def headwater(url: str, lake: Path, workers: int, rows: int) -> None:
    shutil.rmtree(lake, ignore_errors=True)
    result = run_snapshot(open_snapshot(url, "bench_rows", workers=workers), lake)
    if result.rows != rows:
        raise RuntimeError(f"snapshot wrote {result.rows} rows, expected {rows}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    console = Console()
    work = Path(tempfile.mkdtemp(prefix="hw-bench-snapshot-"))
    pg = PostgresServer(settings={"shared_buffers": "256MB"})
    my = MariaDbServer()
    try:
        with console.status(f"starting servers, filling {args.rows:,} rows in each"):
            pg.start()
            my.start()
            fill_postgres(pg, args.rows)
            fill_mariadb(my, args.rows)
        pg_url = pg.dsn(db="bench")
        my_url = f"mysql://root@127.0.0.1:{my.port}/bench"
        keys = ("pg_dump", "hw_pg", "mysqldump", "hw_my")
        runs: dict[str, list[float]] = {k: [] for k in keys}
        cpu: dict[str, list[tuple[float, float]]] = {k: [] for k in keys}
        assert pg.proc is not None and my.proc is not None
        pg_pid, my_pid = pg.proc.pid, my.proc.pid
        lake = work / "lake"
        for _ in range(args.repeat):
            runs["pg_dump"].append(
                timed(lambda: pg_dump(pg, work / "pg.sql"), pg_pid, cpu["pg_dump"])
            )
            runs["hw_pg"].append(
                timed(
                    lambda: headwater(pg_url, lake, args.workers, args.rows), pg_pid, cpu["hw_pg"]
                )
            )
            runs["mysqldump"].append(
                timed(lambda: mysqldump(my, work / "my.sql"), my_pid, cpu["mysqldump"])
            )
            runs["hw_my"].append(
                timed(
                    lambda: headwater(my_url, lake, args.workers, args.rows), my_pid, cpu["hw_my"]
                )
            )
        best = {k: min(v) for k, v in runs.items()}
        best_cpu = {k: cpu[k][runs[k].index(best[k])] for k in keys}
        report = {
            "rows": args.rows,
            "workers": args.workers,
            "repeat": args.repeat,
            "seconds": runs,
            "best": best,
            "rows_per_s": {k: args.rows / v for k, v in best.items()},
            "ratio_pg": best["pg_dump"] / best["hw_pg"],
            "ratio_mysql": best["mysqldump"] / best["hw_my"],
            "cpu": cpu,
            "best_cpu": best_cpu,
            "cores": os.cpu_count(),
            "load_average": os.getloadavg(),
        }
        render(console, report)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
    finally:
        pg.remove()
        my.remove()
        if databases._pg_template is not None:
            shutil.rmtree(databases._pg_template.parent, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def render(console: Console, report: dict[str, Any]) -> None:
    rows, best, rate = report["rows"], report["best"], report["rows_per_s"]
    table = Table(
        title=f"Snapshot of {rows:,} rows into the lake vs the dump tools "
        f"(best of {report['repeat']}, {report['workers']} workers, "
        f"load average {report['load_average'][0]:.1f})"
    )
    for column in ("source", "tool", "seconds", "rows/s", "dump / headwater"):
        table.add_column(column, justify="right" if column != "tool" else "left")
    pairs = [
        ("PostgreSQL", "pg_dump", "hw_pg", "ratio_pg"),
        ("MariaDB", "mysqldump", "hw_my", "ratio_mysql"),
    ]
    for source, dump, ours, ratio in pairs:
        table.add_row(source, dump, f"{best[dump]:.2f}", f"{rate[dump]:,.0f}", "")
        mark = "[green]" if report[ratio] > 1 else "[red]"
        table.add_row(
            "", "headwater snapshot", f"{best[ours]:.2f}", f"{rate[ours]:,.0f}",
            f"{mark}{report[ratio]:.2f}x[/]",
        )  # fmt: skip
    console.print(table)
    cores = report["cores"]
    split = Table(title=f"CPU seconds of each best run ({cores} cores)")
    for column in ("tool", "server", "client", "total", f"total / {cores}", "seconds"):
        split.add_column(column, justify="right" if column != "tool" else "left")
    for key, label in (
        ("pg_dump", "pg_dump"), ("hw_pg", "headwater from PostgreSQL"),
        ("mysqldump", "mysqldump"), ("hw_my", "headwater from MariaDB"),
    ):  # fmt: skip
        server, client = report["best_cpu"][key]
        split.add_row(
            label, f"{server:.2f}", f"{client:.2f}", f"{server + client:.2f}",
            f"{(server + client) / cores:.2f}", f"{best[key]:.2f}",
        )  # fmt: skip
    console.print(split)
    target = rate["hw_pg"] >= PG_TARGET_ROWS_S
    console.print(
        f"PostgreSQL target {PG_TARGET_ROWS_S:,} rows/s: "
        + ("[green]met[/]" if target else f"[red]not met[/] ({rate['hw_pg']:,.0f} rows/s)")
    )


if __name__ == "__main__":
    main()
