"""Snapshot benchmark: rows/s from a table into the lake, against the databases' own dump tools.

    .venv/bin/python bench/snapshot.py [--rows N] [--repeat N] [--workers N] [--json PATH]

Starts a private PostgreSQL 15 and MariaDB (the test helpers in tests/sources/cdc/databases.py),
fills the same table in both — `bench_rows (id bigint primary key, amount numeric(12,2),
name text, created timestamp, flag smallint)` — and times, in the same run, interleaved:

  pg_dump -t bench_rows (plain SQL, COPY data) to a file   vs  headwater snapshot from PostgreSQL
  mysqldump --single-transaction bench_rows to a file        vs  headwater snapshot from MariaDB

headwater's time is the whole command's work: consistent snapshot, catalog, chunked reads, one
Delta version written (Parquet, snappy). Each row keeps its best of --repeat runs. The ratio is
dump time / headwater time (above 1: headwater is faster). Default 1,000,000 rows (10,000,000 takes
minutes to generate on 2 cores; pass --rows 10000000 for the issue's size).
"""

from __future__ import annotations

import argparse
import json
import os
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


def timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


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
        runs: dict[str, list[float]] = {k: [] for k in ("pg_dump", "hw_pg", "mysqldump", "hw_my")}
        for _ in range(args.repeat):
            runs["pg_dump"].append(timed(lambda: pg_dump(pg, work / "pg.sql")))
            runs["hw_pg"].append(
                timed(lambda: headwater(pg_url, work / "lake", args.workers, args.rows))
            )
            runs["mysqldump"].append(timed(lambda: mysqldump(my, work / "my.sql")))
            runs["hw_my"].append(
                timed(lambda: headwater(my_url, work / "lake", args.workers, args.rows))
            )
        best = {k: min(v) for k, v in runs.items()}
        report = {
            "rows": args.rows,
            "workers": args.workers,
            "repeat": args.repeat,
            "seconds": runs,
            "best": best,
            "rows_per_s": {k: args.rows / v for k, v in best.items()},
            "ratio_pg": best["pg_dump"] / best["hw_pg"],
            "ratio_mysql": best["mysqldump"] / best["hw_my"],
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
    target = rate["hw_pg"] >= PG_TARGET_ROWS_S
    console.print(
        f"PostgreSQL target {PG_TARGET_ROWS_S:,} rows/s: "
        + ("[green]met[/]" if target else f"[red]not met[/] ({rate['hw_pg']:,.0f} rows/s)")
    )


if __name__ == "__main__":
    main()
