"""`headwater snapshot` and `headwater import …`: argument handling and the results they print.

Every SnapshotError leaves through the CLI's one boundary (`headwater.errors`): `error: <cause>`
and `fix: <fix>` on stderr with exit status 2; no traceback reaches the user for a cause we know.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

import_app = typer.Typer(
    help="Import dump files (mongoexport JSON, cqlsh COPY CSV, mysqldump) into the lake.",
    no_args_is_help=True,
)

LakeOption = Annotated[Path, typer.Option(help="The lake directory (Delta tables live under it).")]
ProgressOption = Annotated[
    bool | None,
    typer.Option("--progress/--no-progress", help="Progress bar (default: when on a terminal)."),
]
_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")


def parse_duration(text: str) -> float:
    """`30s`, `15m`, `1h`, `1d` → seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise typer.BadParameter(f"expected a duration like 30s, 15m, 1h or 1d, got {text!r}")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def snapshot(
    source: Annotated[
        str,
        typer.Argument(help="postgresql://USER:PASSWORD@HOST:PORT/DB or mysql://…/DB"),
    ],
    table: Annotated[
        list[str], typer.Option("--table", "-t", help="Table to read (repeatable); SCHEMA.TABLE")
    ],
    lake: LakeOption = Path(".headwater/lake"),
    workers: Annotated[int, typer.Option(help="Connections reading chunks in parallel.")] = 4,
    chunk_rows: Annotated[int, typer.Option(help="Rows per primary-key range chunk.")] = 250_000,
    as_text: Annotated[
        list[str] | None, typer.Option(help="Column to read as its text form (repeatable).")
    ] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Column to leave out (repeatable).")] = (
        None
    ),
    every: Annotated[
        str | None, typer.Option(help="Repeat on a schedule, e.g. 1h (Ctrl-C stops).")
    ] = None,
    progress: ProgressOption = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Read whole tables at one consistent position and write each as a Delta table version."""
    from headwater.logs import setup_logging
    from headwater.sources.snapshot import open_snapshot, run_snapshot
    from headwater.sources.snapshot.progress import row_progress

    setup_logging(log_level)
    interval = parse_duration(every) if every else None

    def once() -> None:
        for name in table:
            opened = open_snapshot(
                source,
                name,
                workers=workers,
                chunk_rows=chunk_rows,
                as_text=frozenset(as_text or ()),
                exclude=frozenset(exclude or ()),
            )
            with row_progress(name, opened.estimated_rows, progress) as advance:
                result = run_snapshot(opened, lake, advance)
            typer.echo(
                f"{result.lake_table} version {result.version}: {result.rows:,} rows in "
                f"{result.seconds:.2f} s ({result.rows_per_second:,.0f} rows/s); "
                f"position {result.position.to_metadata()['headwater.source_position']}"
            )

    if interval is None:
        once()
        return
    from headwater.stopping import stop_on_signals

    stop = threading.Event()  # a signal lets the snapshot in hand finish, then ends the schedule
    with stop_on_signals("snapshot", stop.set):
        while True:
            started = time.monotonic()
            once()
            if stop.wait(max(0.0, interval - (time.monotonic() - started))):
                return


def _stem(file: Path) -> str:
    """`users.mongoexport.json` → `users`."""
    return file.name.split(".")[0]


def _report(result: object) -> None:
    typer.echo(
        f"{result.lake_table} version {result.version}: {result.rows:,} rows "  # type: ignore[attr-defined]
        f"in {result.seconds:.2f} s"  # type: ignore[attr-defined]
    )


@import_app.command("mongoexport")
def import_mongoexport(
    file: Annotated[Path, typer.Argument(help="mongoexport output (JSON lines or --jsonArray).")],
    db: Annotated[str, typer.Option(help="Database name for the lake table.")],
    collection: Annotated[
        str | None,
        typer.Option(help="Collection name (default: the file name up to its first dot)."),
    ] = None,
    lake: LakeOption = Path(".headwater/lake"),
    progress: ProgressOption = None,
) -> None:
    """Import a mongoexport file (Extended JSON v2) as snapshots_<db>_<collection>."""
    from headwater.sources.snapshot.imports import import_mongoexport as run
    from headwater.sources.snapshot.progress import row_progress

    with row_progress(file.name, None, progress) as advance:
        result = run(file, lake, db, collection or _stem(file), advance)
    _report(result)


@import_app.command("cql-csv")
def import_cql_csv(
    file: Annotated[Path, typer.Argument(help="CSV from cqlsh COPY … TO … WITH HEADER = true.")],
    keyspace: Annotated[str, typer.Option(help="Keyspace name for the lake table.")],
    table: Annotated[
        str | None, typer.Option(help="Table name (default: the file name up to its first dot).")
    ] = None,
    cql_type: Annotated[
        list[str] | None,
        typer.Option(help="COLUMN=CQLTYPE, e.g. price=decimal (repeatable); others are inferred."),
    ] = None,
    lake: LakeOption = Path(".headwater/lake"),
    progress: ProgressOption = None,
) -> None:
    """Import a cqlsh COPY TO CSV file as snapshots_<keyspace>_<table>."""
    from headwater.sources.snapshot.imports import import_cql_csv as run
    from headwater.sources.snapshot.progress import row_progress

    types = {}
    for item in cql_type or []:
        name, sep, kind = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected COLUMN=CQLTYPE, got {item!r}")
        types[name] = kind.strip().lower()
    with row_progress(file.name, None, progress) as advance:
        result = run(file, lake, keyspace, table or _stem(file), types, advance)
    _report(result)


@import_app.command("mysqldump")
def import_mysqldump(
    file: Annotated[Path, typer.Argument(help="mysqldump / mariadb-dump output (.sql).")],
    db: Annotated[
        str | None, typer.Option(help="Database name (default: the dump's header).")
    ] = None,
    as_text: Annotated[
        list[str] | None, typer.Option(help="Column to import as text (repeatable).")
    ] = None,
    lake: LakeOption = Path(".headwater/lake"),
    progress: ProgressOption = None,
) -> None:
    """Import every table of a mysqldump file, each as snapshots_<db>_<table>."""
    from headwater.sources.snapshot.imports import import_mysqldump as run
    from headwater.sources.snapshot.progress import row_progress

    with row_progress(file.name, None, progress) as advance:
        results = run(file, lake, db, advance, frozenset(as_text or ()))
    for result in results:
        _report(result)
    if not results:
        typer.echo(f"{file}: no CREATE TABLE found, nothing imported", err=True)
        sys.exit(2)
