"""Write a stream of record batches as one Delta table version, with the source position attached.

Each snapshot overwrites the table in one commit (`mode="overwrite"`): readers see the previous
version or the new one, never a mix. If the stream fails half way, the Parquet files already written
are not referenced by any commit (delta-rs commits last), so the table is unchanged; `vacuum`
removes such orphans.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake

from headwater.sources.snapshot.position import Position


def lake_table_name(db: str, table: str) -> str:
    """`snapshots_<db>_<table>`, lower case, anything but letters, digits and _ replaced by _."""
    return "snapshots_" + re.sub(r"[^a-z0-9_]", "_", f"{db}_{table}".lower())


def write_snapshot(
    lake: Path | str,
    name: str,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    position: Position,
    extra_metadata: dict[str, str] | None = None,
) -> int:
    """Write the batches as the next version of `<lake>/<name>`; returns that version."""
    path = str(Path(lake) / name)
    reader = pa.RecordBatchReader.from_batches(schema, batches)
    metadata = {**position.to_metadata(), **(extra_metadata or {})}
    existed = Path(path).exists()
    try:
        write_deltalake(
            path,
            reader,
            mode="overwrite",
            schema_mode="overwrite",
            commit_properties=CommitProperties(custom_metadata=metadata),
        )
    except BaseException:
        if not existed:  # leave no empty directory behind a first write that failed
            with contextlib.suppress(OSError):
                Path(path).rmdir()
        raise
    return DeltaTable(path).version()


def read_position(lake: Path | str, name: str) -> Position | None:
    """The position recorded by the latest commit of a snapshot table."""
    history = DeltaTable(str(Path(lake) / name)).history(1)
    return Position.from_metadata(history[0]) if history else None
