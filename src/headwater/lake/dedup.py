"""Repeated event ids dropped on the way into a lake table: the table itself is the memory.

Rule: a row is a repeat, and is not written, when an earlier row of its batch has its key
(`event_id`), or when the table already holds its key in a data file with a row that arrived
(`received_ts`, the collector's clock) at or after the batch's earliest arrival minus the window.
So a retry that reaches the collector within `window` of the first copy is always dropped,
whatever partition, batch, sink process or restart carried either copy; one that arrives later
may be kept (a file is kept whole, so up to a file's span more is remembered).

Why arrival time: a client's retry carries the same `event_id` and client times (hence `ts`),
but reaches the collector later by its retry delay, which is what the window bounds; the
collector's clock is the one clock the platform trusts. The window is anchored on the batch's
arrivals, not on the sink's clock, so a sink catching up a backlog decides as a live one would.

Where the state lives: the keys are read from the table's data files (only the key column of the
files whose `received_ts` statistics reach the horizon), cached per file and read again only for
files added since; files that left the window or the table are forgotten, so memory is the keys
that arrived within the window (about 40 bytes an id). `LakeTable.commit_once` runs the filter
at the table version each attempt commits on, and a lost race re-reads: exactly once per key
among commits that serialise (`writer`'s table txn). Nothing is written by this module; a crash
loses only the cache, which the next batch reads back from the table.

Cost per batch: probing the window's keys against the batch's (`pc.is_in` with the batch as the
set: O(window) probes, no per-record Python), plus reading the key column of files committed since.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable

#: At most this many repeated ids per batch are kept for the log line.
SAMPLE_IDS = 5


@dataclass(frozen=True, slots=True)
class Repeats:
    """What one pass dropped: how many rows, and a few of their keys (for the log)."""

    dropped: int = 0
    sample: tuple[str, ...] = ()


@dataclass
class RepeatFilter:
    """Drops rows whose `key` is already in the table within `window_s` of arrival (`time`)."""

    root: Path
    key: str
    time: str
    window_s: float
    #: Key column of each data file within the window, by its path relative to `root`.
    _files: dict[str, pa.Array] = field(default_factory=dict, repr=False)
    #: The outcome of the latest `apply` (the winning attempt's, after a commit).
    last: Repeats = field(default_factory=Repeats)

    def apply(self, table: DeltaTable | None, rows: pa.Table) -> pa.Table:
        """`rows` without repeats of each other or of the table's keys at its loaded version."""
        if rows.num_rows == 0 or self.key not in rows.column_names:
            self.last = Repeats()
            return rows
        keys = rows.column(self.key).combine_chunks()
        encoded = pc.dictionary_encode(keys)  # one hashing pass: first occurrences and the set
        keep = first_occurrences(encoded)
        seen = self.seen(table, self.horizon(rows))
        if len(seen):
            # The batch is the (small) set, the window's keys are probed against it.
            again = seen.filter(pc.is_in(seen, value_set=encoded.dictionary))
            if len(again):
                keep &= ~pc.is_in(keys, value_set=again.combine_chunks()).to_numpy(
                    zero_copy_only=False
                )
        if keep.all():
            self.last = Repeats()
            return rows
        mask = pa.array(keep)
        dropped = pc.invert(mask)
        sample = keys.filter(dropped).slice(0, SAMPLE_IDS).to_pylist()
        self.last = Repeats(len(keep) - int(keep.sum()), tuple(sample))
        return rows.filter(mask)

    def horizon(self, rows: pa.Table) -> pa.Scalar:
        """The earliest arrival that still counts: the batch's earliest minus the window."""
        column = rows.column(self.time) if self.time in rows.column_names else None
        earliest = pc.min(column) if column is not None else None
        if earliest is None or not earliest.is_valid:
            micros = time.time_ns() // 1000  # no arrival times: the sink's clock
        else:
            micros = earliest.cast(pa.int64()).as_py()
        start = micros - int(self.window_s * 1_000_000)
        return pa.scalar(start, pa.int64()).cast(pa.timestamp("us", tz="UTC"))

    def seen(self, table: DeltaTable | None, horizon: pa.Scalar) -> pa.ChunkedArray:
        """The keys of the table's files that reach `horizon`, from the cache plus new files."""
        if table is None:
            self._files.clear()
            return pa.chunked_array([], pa.string())
        actions = pa.table(table.get_add_actions(flatten=True))
        paths = actions.column("path")
        latest = f"max.{self.time}"
        if latest in actions.column_names:
            stamps = actions.column(latest).cast(pa.timestamp("us", tz="UTC"))
            # A file without statistics might hold anything: kept.
            reach = pc.or_kleene(pc.is_null(stamps), pc.greater_equal(stamps, horizon))
            paths = paths.filter(reach)
        wanted = set(paths.to_pylist())  # one entry per data file, not per record
        for gone in set(self._files) - wanted:
            del self._files[gone]
        for path in wanted - set(self._files):
            self._files[path] = self._read_keys(path)
        return pa.chunked_array(list(self._files.values()), pa.string())

    def _read_keys(self, path: str) -> pa.Array:
        file = pq.ParquetFile(self.root / unquote(path))
        if self.key not in file.schema_arrow.names:
            return pa.array([], pa.string())  # written before the table had the column
        column = file.read(columns=[self.key]).column(self.key)
        return column.combine_chunks().cast(pa.string()).drop_null()


def first_occurrences(encoded: pa.DictionaryArray) -> np.ndarray:
    """A mask of the rows whose key did not occur earlier (`pc.dictionary_encode` of the keys;
    null keys: always kept)."""
    n = len(encoded)
    if len(encoded.dictionary) == n - encoded.null_count:
        return np.ones(n, dtype=bool)  # no key twice: the usual batch
    codes = encoded.indices.fill_null(-1).to_numpy()
    _, first = np.unique(codes, return_index=True)
    keep = np.zeros(n, dtype=bool)
    keep[first] = True
    keep |= codes < 0
    return keep
