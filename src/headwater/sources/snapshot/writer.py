"""Write a stream of record batches as one Delta table version, with the source position attached.

Each snapshot overwrites the table in one commit (`mode="overwrite"`): readers see the previous
version or the new one, never a mix. If the stream fails half way, the Parquet files already written
are not referenced by any commit (delta-rs commits last), so the table is unchanged; `vacuum`
removes such orphans.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import (
    ColumnProperties,
    CommitProperties,
    DeltaTable,
    WriterProperties,
    write_deltalake,
)

from headwater.sources.snapshot.position import Position

# A column whose first batch is more than half distinct values is written without a dictionary:
# Parquet's writer would build one, find it too big and fall back to plain encoding, and the
# hashing on the way cost a third of the write (1M rows: 0.14 s of CPU, 0.09 s without it for
# the key column alone, 0.06 s for all). Low-cardinality columns keep theirs (smaller files).
DISTINCT_RATIO = 0.5


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
    stream = iter(batches)
    first = next(stream, None)  # the sample that chooses the encodings
    sample = [] if first is None else [first]
    reader = pa.RecordBatchReader.from_batches(schema, itertools.chain(sample, stream))
    metadata = {**position.to_metadata(), **(extra_metadata or {})}
    existed = Path(path).exists()
    try:
        write_deltalake(  # type: ignore[call-overload]  # writer_properties=None: delta-rs' defaults
            path,
            reader,
            mode="overwrite",
            schema_mode="overwrite",
            writer_properties=_writer_properties(first),
            commit_properties=CommitProperties(custom_metadata=metadata),
        )
    except BaseException:
        if not existed:  # leave no empty directory behind a first write that failed
            with contextlib.suppress(OSError):
                Path(path).rmdir()
        raise
    return DeltaTable(path).version()


def _writer_properties(sample: pa.RecordBatch | None) -> WriterProperties | None:
    """Dictionary encoding off for the sample's mostly distinct columns (see DISTINCT_RATIO)."""
    if sample is None or sample.num_rows == 0:
        return None
    plain = [
        field.name
        for field, column in zip(sample.schema, sample.columns, strict=True)
        if pc.count_distinct(column).as_py() > DISTINCT_RATIO * sample.num_rows
    ]
    if not plain:
        return None
    off = ColumnProperties(dictionary_enabled=False)
    # Snappy named again: WriterProperties alone would mean no compression (delta-rs' own
    # default, used without them, is snappy).
    return WriterProperties(compression="SNAPPY", column_properties=dict.fromkeys(plain, off))


def read_position(lake: Path | str, name: str) -> Position | None:
    """The position recorded by the latest commit of a snapshot table."""
    history = DeltaTable(str(Path(lake) / name)).history(1)
    return Position.from_metadata(history[0]) if history else None
