"""Exactly-once bookkeeping in the Delta log: one `txn` (SetTransaction) per topic-partition.

Every commit of the sink carries, for each topic-partition it covers, the transaction
`<sink>-<topic>-<partition>` with version = the last offset it covers (delta-io/kafka-delta-ingest's
scheme). The table is the only source of truth for progress: a sink resumes each partition at the
stored version + 1, and before committing it drops the rows at or below the stored version, so a
batch read twice (a restart, a rebalance, a stalled "zombie" sink) is written once. Delta keeps
txn versions until a transaction retention expires them; headwater never sets one
(`delta.setTransactionRetentionDuration`), and refuses a table that has it.

A table whose rows are checked against the table itself (repeated event ids, `lake.dedup`) adds
one more txn to every commit: `<sink>-<topic>-table`, version = the table version the commit read
+ 1. Two such commits made concurrently then conflict, whatever partitions they cover, so the
loser re-reads and checks its rows against the winner's (`table_txn`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, Transaction

RETENTION_KEY = "delta.setTransactionRetentionDuration"


def app_id(sink: str, topic: str, partition: int) -> str:
    """The txn app id of one topic-partition: `<sink>-<topic>-<partition>`."""
    return f"{sink}-{topic}-{partition}"


def table_app_id(sink: str, topic: str) -> str:
    """The txn app id every commit of a self-checked table carries: `<sink>-<topic>-table`."""
    return f"{sink}-{topic}-table"


def table_txn(sink: str, topic: str, table: DeltaTable | None) -> Transaction:
    """The commit's whole-table txn (module docstring): read version + 1, hence increasing."""
    return Transaction(table_app_id(sink, topic), 0 if table is None else table.version() + 1)


def stored_versions(
    table: DeltaTable | None, sink: str, topic: str, partitions: Iterable[int]
) -> dict[int, int | None]:
    """The last offset committed per partition (None: nothing of it is in the table)."""
    if table is None:
        return dict.fromkeys(partitions)
    return {p: table.transaction_version(app_id(sink, topic, p)) for p in partitions}


def unwritten(table: pa.Table, stored: Mapping[int, int | None]) -> pa.Table:
    """The rows of `table` whose `_offset` is above their partition's stored version."""
    done = {p: v for p, v in stored.items() if v is not None}
    if not done or table.num_rows == 0:
        return table
    parts = table.column("_partition")
    offs = table.column("_offset")
    keep = None
    for p in set(stored):
        here = pc.equal(parts, p)
        if p in done:
            here = pc.and_(here, pc.greater(offs, done[p]))
        keep = here if keep is None else pc.or_(keep, here)
    assert keep is not None
    return table.filter(keep)


def transactions(
    sink: str, topic: str, last: Mapping[int, int], stored: Mapping[int, int | None]
) -> list[Transaction]:
    """The txns of a commit covering offsets up to `last` per partition, where they move on."""
    out = []
    for p, offset in sorted(last.items()):
        before = stored.get(p)
        if before is None or offset > before:
            out.append(Transaction(app_id(sink, topic, p), offset))
    return out


def check_no_retention(table: DeltaTable) -> None:
    """Refuse a table whose txn versions may expire: resuming from them would duplicate rows."""
    value = table.metadata().configuration.get(RETENTION_KEY)
    if value is not None:
        raise ValueError(
            f"{table.table_uri}: {RETENTION_KEY}={value} would let the sink's offsets expire; "
            "remove it (the exactly-once sink needs every txn version kept)"
        )
