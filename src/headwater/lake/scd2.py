"""A batch of changes → history versions (SCD type 2) and current-state rows, in Arrow.

Within a batch the versions of a key are ordered by `_position` and each one ends where the next
begins (`valid_to` = the next version's `valid_from`, a window over the batch); the last version of
a key stays open (`valid_to` NULL). A delete is a zero-length version (`valid_to` = `valid_from`)
holding the deleted row (`before`): a point-in-time reader finds it as the latest version at or
after the delete, sees it already ended, and reads "no row". Versions already in the table are
closed by a MERGE (`lake.merge`) with one closing row per key: its first change in the batch.
"""

from __future__ import annotations

from collections.abc import Collection

import pyarrow as pa
import pyarrow.compute as pc

from headwater.lake.schema import TIMESTAMP
from headwater.lake.tables import SINK_COLUMNS

#: Columns of the history table the sink fills, between the row's columns and `SINK_COLUMNS`.
HISTORY_META = (
    pa.field("valid_from", TIMESTAMP),
    pa.field("valid_to", TIMESTAMP),
    pa.field("_op", pa.string()),
    pa.field("_position", pa.string()),
    pa.field("_key", pa.string()),
)
#: The same for the current-state table (`_updated_at` = the version's `valid_from`).
CURRENT_META = (
    pa.field("_op", pa.string()),
    pa.field("_position", pa.string()),
    pa.field("_key", pa.string()),
    pa.field("_updated_at", TIMESTAMP),
)
META_NAMES = frozenset(f.name for f in (*HISTORY_META, *CURRENT_META))
SINK_NAMES = tuple(f.name for f in SINK_COLUMNS)
CLOSING_SCHEMA = pa.schema(
    [
        pa.field("_key", pa.string()),
        pa.field("valid_from", TIMESTAMP),
        pa.field("_position", pa.string()),
        pa.field("_partition", pa.int32()),
        pa.field("_offset", pa.int64()),
    ]
)


def changes_table(
    rows: pa.Table, keys: list[str], ops: list[str], positions: list[str], ts_ms: list[int]
) -> pa.Table:
    """`rows` (the row's columns and `SINK_COLUMNS`, one per change) with the change's `_key`,
    `_op`, `_position` and `valid_from`, sorted by key then position."""
    vf = pc.multiply(pa.array(ts_ms, pa.int64()), 1000).cast(TIMESTAMP)
    out = (
        rows.append_column("_key", pa.array(keys, pa.string()))
        .append_column("_op", pa.array(ops, pa.string()))
        .append_column("_position", pa.array(positions, pa.string()))
        .append_column("valid_from", vf)
    )
    return out.sort_by([("_key", "ascending"), ("_position", "ascending")])


def _neighbours(changes: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Per row of a key-sorted table: is it its key's first row, is it its key's last row."""
    n = changes.num_rows
    keys = changes.column("_key").combine_chunks()
    if n == 0:
        return pa.array([], pa.bool_()), pa.array([], pa.bool_())
    same_as_next = pc.equal(keys.slice(1), keys.slice(0, n - 1))
    first = pa.concat_arrays([pa.array([True]), pc.invert(same_as_next)])
    last = pa.concat_arrays([pc.invert(same_as_next), pa.array([True])])
    return first, last


def history_rows(changes: pa.Table) -> pa.Table:
    """Versions with `valid_to` from the batch: the next version's start, the start itself for a
    delete, NULL for the last version of a key. Columns: row, meta, sink columns."""
    n = changes.num_rows
    _, last = _neighbours(changes)
    vf = changes.column("valid_from").combine_chunks()
    nxt = pa.concat_arrays([vf.slice(1), pa.nulls(1, TIMESTAMP)]) if n else vf
    deleted = pc.equal(changes.column("_op"), "d")
    valid_to = pc.if_else(deleted, vf, pc.if_else(last, pa.nulls(n, TIMESTAMP), nxt))
    data = [c for c in changes.column_names if c not in META_NAMES and c not in SINK_NAMES]
    cols = {c: changes.column(c) for c in data}
    cols |= {
        "valid_from": vf,
        "valid_to": valid_to,
        "_op": changes.column("_op"),
        "_position": changes.column("_position"),
        "_key": changes.column("_key"),
    }
    cols |= {c: changes.column(c) for c in SINK_NAMES}
    return pa.table(cols)


def closing_rows(changes: pa.Table, known: Collection[str]) -> pa.Table:
    """One row per key of `known` (keys that may have an open version in the table): its first
    change in the batch, whose start ends the open version."""
    first, _ = _neighbours(changes)
    if known is not None and changes.num_rows:
        first = pc.and_(first, pc.is_in(changes.column("_key"), pa.array(list(known), pa.string())))
    return changes.filter(first).select(CLOSING_SCHEMA.names).cast(CLOSING_SCHEMA)


def current_rows(changes: pa.Table) -> pa.Table:
    """The last change of each key (a delete stays in: the MERGE deletes with it)."""
    _, last = _neighbours(changes)
    latest = changes.filter(last)
    data = [c for c in latest.column_names if c not in META_NAMES and c not in SINK_NAMES]
    cols = {c: latest.column(c) for c in data}
    cols |= {
        "_op": latest.column("_op"),
        "_position": latest.column("_position"),
        "_key": latest.column("_key"),
        "_updated_at": latest.column("valid_from"),
    }
    cols |= {c: latest.column(c) for c in SINK_NAMES}
    return pa.table(cols)
