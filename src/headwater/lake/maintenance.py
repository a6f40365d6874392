"""Table maintenance: compaction, vacuum and history, through deltalake (`headwater lake …`).

Rules:
1. Compaction rewrites small files into larger ones in one commit; it adds and removes files only,
   so the sink's txn versions (exactly-once progress) stay as they were, and a sink appending at
   the same time does not conflict with it (appends only add files).
2. Vacuum is a dry run unless applied. It is always delta-rs' "full" vacuum: besides the files
   compaction and deletes removed, it deletes files the log never mentioned, which is what a
   failed commit attempt leaves behind (`lake.writer`). A file younger than the retention (the
   table's `delta.deletedFileRetentionDuration`, 7 days by default) is kept: it may belong to a
   commit in flight. A shorter `retention_hours` is the caller's explicit choice (no sink may be
   writing then).
3. Nothing here changes table properties; in particular it never sets a transaction retention
   (`delta.setTransactionRetentionDuration`), which would let the sink's offsets expire.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from deltalake import DeltaTable

from headwater.lake import txn


def open_table(path: Path) -> DeltaTable:
    """The table at `path`; refuses one with a transaction retention (the sink would too)."""
    table = DeltaTable(str(path))
    txn.check_no_retention(table)
    return table


@dataclass(frozen=True, slots=True)
class Compacted:
    """What a compaction did: files in and out, and the table version it wrote (None: nothing)."""

    files_removed: int
    files_added: int
    version: int | None


def compact(path: Path, target_size: int | None = None) -> Compacted:
    """Bin-pack small files per partition into files of about `target_size` bytes (rule 1)."""
    table = open_table(path)
    before = table.version()
    metrics: dict[str, Any] = table.optimize.compact(target_size=target_size)
    after = table.version()
    return Compacted(
        files_removed=int(metrics.get("numFilesRemoved", 0)),
        files_added=int(metrics.get("numFilesAdded", 0)),
        version=after if after != before else None,
    )


def vacuum(path: Path, apply: bool = False, retention_hours: int | None = None) -> list[str]:
    """Files no version at or after the retention needs, deleted only when `apply` (rule 2)."""
    table = open_table(path)
    return sorted(
        table.vacuum(
            retention_hours=retention_hours,
            dry_run=not apply,
            enforce_retention_duration=retention_hours is None,
            full=True,
        )
    )


HISTORY_SCHEMA = pa.schema(
    [
        pa.field("version", pa.int64()),
        pa.field("timestamp", pa.timestamp("ms", tz="UTC")),
        pa.field("operation", pa.string()),
        pa.field("parameters", pa.string()),
        pa.field("rows_added", pa.int64()),
        pa.field("files_added", pa.int64()),
        pa.field("files_removed", pa.int64()),
    ]
)
#: Operation metrics by the names delta-rs gives them in writes, optimize and vacuum.
_ROWS_ADDED = ("num_added_rows", "numOutputRows")
_FILES_ADDED = ("num_added_files", "numFilesAdded")
_FILES_REMOVED = ("num_removed_files", "numFilesRemoved", "numDeletedFiles")


def history(path: Path, limit: int | None = None) -> pa.Table:
    """The table's commits, newest first: version, time, operation and what it changed."""
    rows = []
    for entry in open_table(path).history(limit):
        stamp = entry.get("timestamp")
        metrics = entry.get("operationMetrics") or {}
        params = entry.get("operationParameters")
        rows.append(
            {
                "version": entry.get("version"),
                "timestamp": None
                if stamp is None
                else dt.datetime.fromtimestamp(stamp / 1000, dt.UTC),
                "operation": entry.get("operation"),
                "parameters": orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode()
                if params
                else None,
                "rows_added": _metric(metrics, _ROWS_ADDED),
                "files_added": _metric(metrics, _FILES_ADDED),
                "files_removed": _metric(metrics, _FILES_REMOVED),
            }
        )
    return pa.Table.from_pylist(rows, schema=HISTORY_SCHEMA)


def _metric(metrics: dict[str, Any], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in metrics:
            return int(metrics[name])
    return None
