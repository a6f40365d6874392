"""The rich progress bar of snapshots and imports: rows so far against the estimate, rows/s.

Written to stderr (stdout carries the result line); off when stderr is not a terminal unless asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@contextmanager
def row_progress(
    label: str, estimated_rows: int | None, enabled: bool | None = None
) -> Iterator[Callable[[int], None]]:
    """Yield `advance(rows)`; the bar's total grows if the estimate was short."""
    console = Console(stderr=True)
    if enabled is None:
        enabled = console.is_terminal
    if not enabled:
        yield lambda rows: None
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} rows/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    task = progress.add_task(label, total=estimated_rows or None, rate="-")
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        total = progress.tasks[0].total
        if total is not None and done > total:
            progress.update(task, total=done)
        elapsed = progress.tasks[0].elapsed or 0.0
        rate = f"{done / elapsed:,.0f}" if elapsed > 0 else "-"
        progress.update(task, advance=rows, rate=rate)

    with progress:
        yield advance
