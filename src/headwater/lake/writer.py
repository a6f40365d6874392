"""Append to a Delta table exactly once per topic-partition offset, whatever else writes to it.

Rule: every attempt reads the table, drops the rows at or below the stored txn versions
(`txn.unwritten`), and commits. delta-rs rebases a commit onto concurrent ones only when none of
them carries one of its txn app ids (its conflict checker: a concurrent `txn` of the same app id is
a `ConcurrentTransaction` conflict); so sinks of different partitions do not redo each other's
work, while two sinks that both think they own a partition (a rebalance, a stalled sink) cannot
both commit the same offsets: the loser's commit fails, and its next attempt re-reads the stored
version and drops what the winner wrote (tests/lake/test_writer.py proves both). Data files of a
failed attempt are left unreferenced (`vacuum` removes them).

A table whose rows are also checked against the table (repeated event ids, `lake.dedup`) needs
its commits serialised across partitions too: `append_once(..., keep=...)` runs the check in every
attempt on the version that attempt commits on, and adds the whole-table txn (`txn.table_txn`),
so a concurrent commit of any partition makes ours lose and re-check. Sinks of such a table then
wait for each other's commits (a lost race costs one more write of the batch), which is the price
of an exact check across processes.

Crash behaviour: a process killed before the commit leaves at most unreferenced data files; one
killed after it has committed rows and their txn versions together (one atomic log entry).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from headwater.lake import txn

log = logging.getLogger("headwater.lake")

#: Attempts of one commit that fail for another reason than a concurrent commit (e.g. another
#: writer widened a column's type between our read and our write) before giving up.
MAX_OTHER_FAILURES = 5
MAX_ATTEMPTS = 200


@dataclass(frozen=True, slots=True)
class CommitResult:
    """What one exactly-once append did."""

    version: int | None  # the table version written; None when there was nothing new to write
    rows: int
    attempts: int
    stored: Mapping[int, int | None]  # txn versions per partition read by the winning attempt


class LakeTable:
    """One Delta table of the lake, written by one topic's sink."""

    def __init__(self, path: Path, partition_by: str, sink: str, topic: str) -> None:
        self.path = path
        self.partition_by = partition_by
        self.sink = sink
        self.topic = topic
        self._table: DeltaTable | None = None

    def load(self) -> DeltaTable | None:
        """The table at its newest version, or None when it does not exist yet."""
        if self._table is None:
            try:
                self._table = DeltaTable(str(self.path))
            except TableNotFoundError:
                return None
            txn.check_no_retention(self._table)
        else:
            self._table.update_incremental()
        return self._table

    def schema(self) -> pa.Schema | None:
        table = self.load()
        return None if table is None else pa.schema(table.schema().to_arrow())

    def stored(self, partitions: list[int]) -> dict[int, int | None]:
        """The last offset committed per partition (None: none)."""
        return txn.stored_versions(self.load(), self.sink, self.topic, partitions)

    def append_once(
        self,
        build: Callable[[pa.Schema | None], pa.Table],
        last: Mapping[int, int],
        keep: Callable[[DeltaTable | None, pa.Table], pa.Table] | None = None,
    ) -> CommitResult:
        """Append the rows `build(current schema)` returns, covering offsets up to `last` per
        partition, exactly once (module rule). `build` runs again after each lost race, and so
        does `keep(table, rows)`, a filter of the unwritten rows against the table read by that
        attempt (its commits are then serialised: module docstring)."""

        def append(
            table: DeltaTable | None, stored: Mapping[int, int | None], props: CommitProperties
        ) -> int:
            schema = None if table is None else pa.schema(table.schema().to_arrow())
            rows = txn.unwritten(build(schema), stored)
            if keep is not None:
                rows = keep(table, rows)
            if table is None:
                write_deltalake(
                    str(self.path), rows, mode="error", partition_by=[self.partition_by],
                    commit_properties=props,
                )  # fmt: skip
            else:
                write_deltalake(
                    table, rows, mode="append", schema_mode="merge",
                    partition_by=[self.partition_by], commit_properties=props,
                )  # fmt: skip
            return rows.num_rows

        return self.commit_once(append, last, whole_table=keep is not None)

    def commit_once(
        self,
        write: Callable[[DeltaTable | None, Mapping[int, int | None], CommitProperties], int],
        last: Mapping[int, int],
        whole_table: bool = False,
    ) -> CommitResult:
        """Run `write(table or None, stored txn versions, commit properties)`, which makes one
        commit (an append, a MERGE, a DELETE) carrying the properties' txns and returns its row
        count, covering offsets up to `last` per partition, exactly once: `write` must leave out
        what `stored` says is written. Retried like `append_once`. A MERGE or DELETE that
        changed nothing commits nothing in deltalake 1.6; the txns then go in an empty append.
        `whole_table`: the commit also carries the table txn (`txn.table_txn`), so it loses to
        any concurrent commit that carries it, whichever partitions either covers."""
        others = 0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            table = self.load()
            stored = txn.stored_versions(table, self.sink, self.topic, last)
            txns = txn.transactions(self.sink, self.topic, last, stored)
            if not txns:
                return CommitResult(None, 0, attempt, stored)
            if whole_table:
                txns.append(txn.table_txn(self.sink, self.topic, table))
            props = CommitProperties(app_transactions=txns)
            try:
                rows = write(table, stored, props)
                written = self.load()
                assert written is not None
                # Only txns no commit has recorded yet (a no-op MERGE): one a racing sink has
                # already moved past must not be written again, or its version would go back.
                missing = [t for t in txns if not _recorded(written, t)]
                if missing:
                    empty = pa.schema(written.schema().to_arrow()).empty_table()
                    write_deltalake(
                        written, empty, mode="append", partition_by=[self.partition_by],
                        commit_properties=CommitProperties(app_transactions=missing),
                    )  # fmt: skip
            except CommitFailedError:
                self._backoff(attempt)  # a concurrent commit of one of our partitions
                continue
            except DeltaError as exc:
                if table is None and "already exists" in str(exc):
                    continue  # another sink created it first
                others += 1
                if others >= MAX_OTHER_FAILURES:
                    raise
                log.warning("commit to %s failed, retrying: %s", self.path.name, exc)
                self._table = None
                self._backoff(attempt)
                continue
            written = self.load()
            assert written is not None
            return CommitResult(written.version(), rows, attempt, stored)
        raise RuntimeError(f"{self.path}: no commit after {MAX_ATTEMPTS} attempts")

    @staticmethod
    def _backoff(attempt: int) -> None:
        time.sleep(random.uniform(0, min(0.5, 0.01 * attempt)))


def _recorded(table: DeltaTable, t: Transaction) -> bool:
    """Whether the table's txn version of `t`'s app id is at `t.version` or past it."""
    version = table.transaction_version(t.app_id)
    return version is not None and version >= t.version
