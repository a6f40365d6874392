"""`headwater dataset …`: sessions and point-in-time training sets from the lake."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from headwater.lake_cli import LakeDir

dataset_app = typer.Typer(
    help="Training sets from the lake: sessions, point-in-time features, pinned versions.",
    no_args_is_help=True,
)


@dataset_app.command("sessions")
def dataset_sessions(
    lake: LakeDir = Path(".headwater/lake"),
    gap_minutes: Annotated[float, typer.Option(help="Inactivity that ends a session.")] = 30.0,
    output_format: Annotated[
        str, typer.Option("--format", help="table, csv, json (one object a line) or parquet.")
    ] = "table",
) -> None:
    """Sessionised clickstream: one row per visitor session with its features."""
    import sys

    import duckdb
    from deltalake.exceptions import DeltaError

    from headwater.ml import LakeSnapshot, sessions
    from headwater.query.output import write

    try:
        snapshot = LakeSnapshot.open(lake, ["clickstream_events"])
    except DeltaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    con = duckdb.connect()
    try:
        snapshot.register(con)
        result = sessions(con, gap_minutes)
    finally:
        con.close()
    write(result, output_format, sys.stdout.buffer)


def _history_spec(value: str) -> object:
    from headwater.ml import HistoryFeatures

    table, sep, rest = value.partition(":")
    key, sep2, columns = rest.partition(":")
    if not (sep and sep2 and table and key and columns):
        raise typer.BadParameter(f"expected TABLE:KEY:COL[,COL…], got {value!r}")
    return HistoryFeatures(table, key, tuple(c for c in columns.split(",") if c))


@dataset_app.command("build")
def dataset_build(
    entities: Annotated[
        Path, typer.Option(help="Parquet or CSV of entity rows: a key, a timestamp, labels.")
    ],
    out: Annotated[Path, typer.Option(help="Parquet file to write (versions in its metadata).")],
    lake: LakeDir = Path(".headwater/lake"),
    key: Annotated[str, typer.Option(help="Entity key column.")] = "key",
    ts: Annotated[str, typer.Option(help="Entity timestamp column (naive = UTC).")] = "ts",
    history: Annotated[
        list[str] | None,
        typer.Option(help="TABLE:KEY:COL[,COL…] of a history table (repeatable)."),
    ] = None,
    clickstream: Annotated[
        bool, typer.Option(help="Attach clickstream activity and the session as of ts.")
    ] = True,
    window_days: Annotated[float, typer.Option(help="Clickstream counts window.")] = 7.0,
    gap_minutes: Annotated[float, typer.Option(help="Inactivity that ends a session.")] = 30.0,
    pin: Annotated[
        Path | None,
        typer.Option(help="A training set written before: read the same table versions."),
    ] = None,
) -> None:
    """Build a point-in-time training set and write it to Parquet."""
    import datetime as dt

    import duckdb
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq
    from deltalake.exceptions import DeltaError

    from headwater.ml import ClickstreamFeatures, DatasetSpec, build, read_versions

    rows = pcsv.read_csv(entities) if entities.suffix == ".csv" else pq.read_table(entities)
    spec = DatasetSpec(
        history=tuple(_history_spec(h) for h in history or []),  # type: ignore[misc]
        clickstream=ClickstreamFeatures(dt.timedelta(days=window_days), gap_minutes)
        if clickstream
        else None,
    )
    try:
        result = build(lake, rows, spec, key, ts, read_versions(pin) if pin else None)
    except (OSError, ValueError, KeyError, duckdb.Error, DeltaError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    result.to_parquet(out)
    versions = ", ".join(f"{t}@{v}" for t, v in result.versions.items())
    typer.echo(f"{result.table.num_rows} rows, {result.table.num_columns} columns from {versions}")
