"""`headwater lake …`: compact, vacuum and history of the lake's Delta tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

lake_app = typer.Typer(
    help="Maintain the lake's Delta tables: compact, vacuum (dry run unless --apply), history.",
    no_args_is_help=True,
)
LakeDir = Annotated[Path, typer.Option(help="Directory of the lake's Delta tables.")]
TableArg = Annotated[str, typer.Argument(help="A table name in --lake, or a table's directory.")]


def _table_path(lake: Path, table: str) -> Path:
    """`table` under `lake`, or as a path; exits with a message when it is not a Delta table."""
    for path in (lake / table, Path(table)):
        if (path / "_delta_log").is_dir():
            return path
    typer.echo(f"error: no Delta table {table!r} in {lake}", err=True)
    raise typer.Exit(1)


@lake_app.command("compact")
def lake_compact(
    table: TableArg,
    lake: LakeDir = Path(".headwater/lake"),
    target_size: Annotated[
        int | None, typer.Option(help="Bytes a rewritten file aims at (default 100 MiB).")
    ] = None,
) -> None:
    """Rewrite small files into large ones (one commit; the sink's offsets are kept)."""
    from headwater.lake.maintenance import compact

    done = compact(_table_path(lake, table), target_size)
    if done.version is None:
        typer.echo("nothing to compact")
    else:
        typer.echo(
            f"version {done.version}: {done.files_removed} files rewritten into {done.files_added}"
        )


@lake_app.command("vacuum")
def lake_vacuum(
    table: TableArg,
    lake: LakeDir = Path(".headwater/lake"),
    apply: Annotated[bool, typer.Option("--apply", help="Delete (default: only list).")] = False,
    retention_hours: Annotated[
        int | None,
        typer.Option(
            help="Keep files younger than this (default: the table's, 7 days). Lower it only "
            "while no sink writes: a commit in flight owns young unreferenced files."
        ),
    ] = None,
) -> None:
    """Delete files no table version needs, including those failed commits left (dry run)."""
    from headwater.lake.maintenance import vacuum

    files = vacuum(_table_path(lake, table), apply, retention_hours)
    for name in files:
        typer.echo(name)
    verb = "deleted" if apply else "would delete (dry run; --apply deletes)"
    typer.echo(f"{verb}: {len(files)} files", err=True)


@lake_app.command("history")
def lake_history(
    table: TableArg,
    lake: LakeDir = Path(".headwater/lake"),
    limit: Annotated[int | None, typer.Option(help="Newest commits only.")] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table, csv, json (one object a line) or parquet.")
    ] = "table",
) -> None:
    """The table's commits, newest first."""
    import sys

    from headwater.lake.maintenance import history
    from headwater.query.output import write

    write(history(_table_path(lake, table), limit), output_format, sys.stdout.buffer)
