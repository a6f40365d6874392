"""Bulk snapshots of database tables, and dump-file imports, written to the lake as Delta tables.

`open_snapshot(url, table)` opens a table at a consistent source position (PostgreSQL exported
snapshot, MySQL/MariaDB consistent snapshot taken under a brief read lock); `run_snapshot` reads it
in chunks and writes one Delta version of `snapshots_<db>_<table>` whose commit metadata carries the
position (`headwater.source_position`). Imports live in `headwater.sources.snapshot.imports`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from headwater.sources.snapshot.errors import SnapshotError
from headwater.sources.snapshot.position import Position
from headwater.sources.snapshot.run import OpenSnapshot, SnapshotResult, run_snapshot
from headwater.sources.snapshot.writer import lake_table_name, read_position

__all__ = [
    "OpenSnapshot",
    "Position",
    "SnapshotError",
    "SnapshotResult",
    "lake_table_name",
    "open_snapshot",
    "read_position",
    "run_snapshot",
]


def open_snapshot(
    url: str,
    table: str,
    *,
    workers: int = 4,
    chunk_rows: int = 250_000,
    as_text: frozenset[str] = frozenset(),
    exclude: frozenset[str] = frozenset(),
) -> OpenSnapshot:
    """Open `table` of the database at `url` (postgresql://, mysql:// or mariadb://)."""
    scheme = urlsplit(url).scheme.lower()
    options = {
        "workers": workers,
        "chunk_rows": chunk_rows,
        "as_text": as_text,
        "exclude": exclude,
    }
    if scheme in ("postgresql", "postgres"):
        from headwater.sources.snapshot import postgres

        return postgres.open_snapshot(url, table, **options)  # type: ignore[arg-type]
    if scheme in ("mysql", "mariadb"):
        from headwater.sources.snapshot import mysql

        return mysql.open_snapshot(url, table, **options)  # type: ignore[arg-type]
    raise SnapshotError(
        f"unsupported source URL scheme {scheme!r}",
        "use postgresql://USER:PASSWORD@HOST:PORT/DB or mysql://USER:PASSWORD@HOST:PORT/DB",
    )
