"""The Delta writes of the CDC tables: append + close (history), upsert/delete (current state),
and truncate. Each takes the commit's `CommitProperties` (its txns, `lake.txn`), so it is one atomic
exactly-once commit; `LakeTable.commit_once` retries it after a lost race.

Why MERGE for `valid_to`: a new version of a key ends the version already in the table, which was
written by an earlier commit; only an update of that row can end it. The history MERGE uses the
SCD2 "staged union": the source is the new versions (a NULL merge key: they never match and are
inserted) plus one closing row per key (merge key = `_key`), which matches the key's open version
(`valid_to IS NULL`) when that one is older (`_position` below) and sets its `valid_to`. All of it
is one commit, so readers never see a key with two open versions or none.

A MERGE or DELETE that changes nothing writes no commit in deltalake 1.6 (not even its txns);
`commit_once` then records the txns with an empty append.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, write_deltalake

from headwater.lake.tables import PARTITION_COLUMN

CLOSE_KEY = "__close_key"
_PART = [PARTITION_COLUMN]


def create(path: str, rows: pa.Table, props: CommitProperties) -> None:
    """A new table holding `rows` (another sink may create it first: the caller retries)."""
    write_deltalake(path, rows, mode="error", partition_by=_PART, commit_properties=props)


def append(table: DeltaTable, rows: pa.Table, props: CommitProperties) -> None:
    write_deltalake(
        table, rows, mode="append", schema_mode="merge", partition_by=_PART,
        commit_properties=props,
    )  # fmt: skip


def append_and_close(
    table: DeltaTable, rows: pa.Table, closing: pa.Table, props: CommitProperties
) -> None:
    """Insert the versions `rows` and end each key's open version older than its closing row
    (`scd2.closing_rows`) at the closing row's `valid_from`, in one commit."""
    if closing.num_rows == 0:
        append(table, rows, props)
        return
    n = rows.num_rows
    inserts = rows.append_column(CLOSE_KEY, pa.nulls(n, pa.string()))
    closes = pa.table(
        {
            f.name: closing.column(f.name).cast(f.type)
            if f.name in closing.column_names
            else pa.nulls(closing.num_rows, f.type)
            for f in rows.schema
        }
    ).append_column(CLOSE_KEY, closing.column("_key"))
    staged = pa.concat_tables([inserts, closes])
    (
        table.merge(
            staged,
            predicate=f"t._key = s.{CLOSE_KEY} AND t.valid_to IS NULL",
            source_alias="s",
            target_alias="t",
            merge_schema=True,
            commit_properties=props,
        )
        .when_matched_update({"valid_to": "s.valid_from"}, predicate="t._position < s._position")
        .when_not_matched_insert_all(predicate=f"s.{CLOSE_KEY} IS NULL", except_cols=[CLOSE_KEY])
        .execute()
    )


def upsert(table: DeltaTable, rows: pa.Table, props: CommitProperties) -> None:
    """The current state: each key's row replaced by a newer change (`_position` above), deleted
    by a newer delete, inserted when absent unless the change is a delete."""
    (
        table.merge(
            rows,
            predicate="t._key = s._key",
            source_alias="s",
            target_alias="t",
            merge_schema=True,
            commit_properties=props,
        )
        .when_matched_delete(predicate="s._op = 'd' AND t._position < s._position")
        .when_matched_update_all(predicate="s._op <> 'd' AND t._position < s._position")
        .when_not_matched_insert_all(predicate="s._op <> 'd'")
        .execute()
    )


def close_all(table: DeltaTable, valid_from: pa.Scalar, position: str, props: CommitProperties):
    """A truncate: every open version older than `position` ends at `valid_from`."""
    source = pa.table(
        {"valid_from": pa.array([valid_from]), "_position": pa.array([position], pa.string())}
    )
    (
        table.merge(
            source,
            predicate="t.valid_to IS NULL AND t._position < s._position",
            source_alias="s",
            target_alias="t",
            commit_properties=props,
        )
        .when_matched_update({"valid_to": "s.valid_from"})
        .execute()
    )


def delete_older(table: DeltaTable, position: str, props: CommitProperties) -> None:
    """A truncate of the current state: every row older than `position` goes."""
    if not position.replace(":", "").isdigit():
        raise ValueError(f"unexpected position {position!r}")
    table.delete(predicate=f"_position < '{position}'", commit_properties=props)


def drop_deletes(rows: pa.Table) -> pa.Table:
    """Current rows for a table that does not exist yet: deletes have nothing to delete."""
    return rows.filter(pc.not_equal(rows.column("_op"), "d"))
