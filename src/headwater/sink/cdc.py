"""A change topic (`cdc.<source>.<db>.<table>`) into its history and current-state tables.

`cdc_<db>_<table>_history` gets every change as a version (SCD type 2, `lake.scd2`), and
`cdc_<db>_<table>` the current state (`lake.merge`). Unreadable envelopes go to
`cdc_<db>_<table>_history_dead_letters`. Tombstones (null values after deletes) are skipped.

Order of a flush: dead letters, then per segment the history commit and the current-state commit.
A batch is cut into segments at truncates (`op` t), each truncate a segment of its own, so a
truncate ends exactly the versions before it. Every commit carries its segment's txns, and each
table filters the records by its own txn versions: a crash between two commits re-applies only
what the later table misses; a partition resumes at the lower of the two tables' versions + 1.

Dedup: a change whose `_position` (`sink.changes.position`) is not above the highest one landed
for its key is a duplicate (the readers are at least once) and is dropped. The high-water marks
are kept per partition (a key's changes are in one partition) in memory: loaded from the history
table on first use, from its rows below the batch's first offset (so a batch read again after a
crash is judged exactly as the first time), and moved on after the batch's commits. The decision
is a function of the topic's contents alone, so every table and every sink agrees on it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable

from headwater.lake import merge, scd2, txn
from headwater.lake.convert import Converter
from headwater.lake.tables import CdcNames, TableSpec
from headwater.lake.writer import LakeTable
from headwater.sink.buffer import Batch
from headwater.sink.changes import Changes, read
from headwater.sink.topic import FlushReport, dead_letter_rows


@dataclass
class _Segment:
    """Batch records [start, end): changes (a table of kept changes) or one truncate."""

    start: int
    end: int
    last: dict[int, int]
    truncate: tuple[str, int] | None = None  # (position, ts_ms)


@dataclass
class _Kept:
    """The changes a batch keeps after dedup (sorted by key and position; `__i`: batch index),
    the keys that may have an open version in the history, and the batch's high-water marks
    (partition -> key -> position) to keep once it is committed."""

    table: pa.Table
    known: set[str]
    hwm: dict[int, dict[str, str]]


class CdcTableSink:
    """Writes batches of one change topic into its history, current-state and dead-letter
    tables. Same interface as `TopicSink`."""

    def __init__(self, lake: Path, topic: str, names: CdcNames, sink: str) -> None:
        self.names = names
        self.history = LakeTable(lake / names.history, "event_date", sink, topic)
        self.current = LakeTable(lake / names.current, "event_date", sink, topic)
        self.dead = LakeTable(lake / names.dead_letters, "event_date", sink, topic)
        self.spec = TableSpec(name=names.history, topic=topic, sink_filled=scd2.META_NAMES)
        self.converter = Converter(self.spec)
        #: partition -> key -> highest `_position` landed (module docstring).
        self._hwm: dict[int, dict[str, str]] = {}

    def start_offsets(self, partitions: list[int]) -> dict[int, int | None]:
        """Where each partition resumes: the lower stored txn version of the two tables + 1."""
        hist, cur = self.history.stored(partitions), self.current.stored(partitions)
        out: dict[int, int | None] = {}
        for p in partitions:
            self._hwm.pop(p, None)  # (re)assigned: another sink may have moved on meanwhile
            versions = (hist[p], cur[p])
            out[p] = None if None in versions else min(v for v in versions if v is not None) + 1
        return out

    def flush(self, batch: Batch) -> FlushReport:
        started = time.monotonic()
        changes = read(batch.values, batch.keys)
        rows, rejected = self._convert(batch, changes)
        kept, truncates = self._dedup(batch, changes, rows)
        dead_rows = 0
        if rejected:
            rejected = sorted(dict(reversed(rejected)).items())  # one per record
            dead = self.dead.append_once(lambda _: dead_letter_rows(batch, rejected), batch.last)
            dead_rows = dead.rows
        version, written, attempts = None, 0, 0
        known, table = kept.known, kept.table
        for seg in _segments(batch, truncates):
            if seg.truncate is None:
                idx = table.column("__i")
                part = table.filter(
                    pc.and_(pc.greater_equal(idx, seg.start), pc.less(idx, seg.end))
                ).drop_columns(["__i"])
                h = self.history.commit_once(
                    partial(self._history, changes=part, known=known),
                    seg.last,
                )
                c = self.current.commit_once(partial(self._current, changes=part), seg.last)
                known.update(part.column("_key").to_pylist())
            else:
                pos, ts_ms = seg.truncate
                h = self.history.commit_once(
                    partial(self._close_all, position=pos, ts_ms=ts_ms),
                    seg.last,
                )
                c = self.current.commit_once(partial(self._truncate, position=pos), seg.last)
            version = h.version if h.version is not None else version
            written += h.rows
            attempts += h.attempts + c.attempts
        for p, marks in kept.hwm.items():
            self._hwm.setdefault(p, {}).update(marks)
        return FlushReport(
            table=self.names.history,
            version=version,
            rows=written,
            rejected=dead_rows,
            attempts=attempts,
            seconds=time.monotonic() - started,
            offsets={p: (batch.first[p], batch.last[p]) for p in sorted(batch.last)},
        )

    def close(self) -> None:
        self.converter.close()

    # -- internals ------------------------------------------------------------------------------

    def _data_schema(self) -> pa.Schema:
        """The row's columns in the history table (and the sink columns the converter fills)."""
        schema = self.history.schema()
        if schema is None:
            return self.spec.schema
        return pa.schema([f for f in schema if f.name not in scd2.META_NAMES])

    def _convert(self, batch: Batch, changes: Changes) -> tuple[pa.Table, list[tuple[int, str]]]:
        """The rows of the changes (truncates included, as empty rows) and the rejects
        (batch index, reason); the rows carry the change's index in `changes` as `__c`."""
        rejected = list(changes.rejected)
        if not len(changes):
            empty = self._data_schema().empty_table()
            return empty.append_column("__c", pa.array([], pa.int64())), rejected
        converted = self.converter.convert(
            changes.row,
            [batch.partitions[i] for i in changes.index],
            [batch.offsets[i] for i in changes.index],
            changes.ts_ms,
            self._data_schema(),
        )
        bad = {r.index for r in converted.rejected}
        rejected += [(changes.index[r.index], r.reason) for r in converted.rejected]
        good = [c for c in range(len(changes)) if c not in bad]
        rows = converted.table.append_column("__c", pa.array(good, pa.int64()))
        return rows, rejected

    def _dedup(
        self, batch: Batch, changes: Changes, rows: pa.Table
    ) -> tuple[_Kept, list[tuple[int, str, int]]]:
        """Drop duplicate changes (module docstring); also returns the truncates (batch index,
        position, ts_ms)."""
        self._load_hwm(batch)
        pending: dict[int, dict[str, str]] = {}
        known: set[str] = set()
        keep: list[bool] = []
        truncates: list[tuple[int, str, int]] = []
        for c in rows.column("__c").to_pylist():
            i, op, pos = changes.index[c], changes.op[c], changes.position[c]
            if op == "t":
                truncates.append((i, pos, changes.ts_ms[c]))
                keep.append(False)
                continue
            p, key = batch.partitions[i], changes.key[c]
            assert key is not None
            mine = pending.setdefault(p, {})
            high = mine.get(key)
            if high is None:
                high = self._hwm[p].get(key)
                if high is not None:
                    known.add(key)
            if high is not None and pos <= high:
                keep.append(False)
                continue
            if op == "d":  # its key may be open (also from another partition: a key change)
                known.add(key)
            mine[key] = pos
            keep.append(True)
        chosen = [c for c, k in zip(rows.column("__c").to_pylist(), keep, strict=True) if k]
        table = scd2.changes_table(
            rows.filter(pa.array(keep, pa.bool_()))
            .drop_columns(["__c"])
            .append_column("__i", pa.array([changes.index[c] for c in chosen], pa.int64())),
            [changes.key[c] for c in chosen],  # type: ignore[misc]
            [changes.op[c] for c in chosen],
            [changes.position[c] for c in chosen],
            [changes.ts_ms[c] for c in chosen],
        )
        return _Kept(table, known, pending), truncates

    def _load_hwm(self, batch: Batch) -> None:
        missing = [p for p in batch.first if p not in self._hwm]
        if not missing:
            return
        table = self.history.load()
        for p in missing:
            self._hwm[p] = {}
        if table is None:
            return
        data = table.to_pyarrow_dataset()  # noqa: F841  (read by DuckDB below)
        where = " OR ".join(f"(_partition = {p} AND _offset < {batch.first[p]})" for p in missing)
        con = duckdb.connect()
        try:
            result = con.sql(
                f"SELECT _partition, _key, max(_position) FROM data WHERE {where} GROUP BY 1, 2"
            ).fetchall()
        finally:
            con.close()
        for p, key, pos in result:
            self._hwm[p][key] = pos

    def _history(
        self,
        table: DeltaTable | None,
        stored: Mapping[int, int | None],
        props: CommitProperties,
        changes: pa.Table,
        known: set[str],
    ) -> int:
        fresh = txn.unwritten(changes, stored)
        old: set[str] = set()
        if fresh.num_rows < changes.num_rows:  # a batch read again: some changes are written
            old = _written_keys(changes, stored)  # their keys have open versions there
        rows = scd2.history_rows(fresh)
        if table is None:
            merge.create(str(self.history.path), rows, props)
        else:
            merge.append_and_close(table, rows, scd2.closing_rows(fresh, known | old), props)
        return rows.num_rows

    def _current(
        self,
        table: DeltaTable | None,
        stored: Mapping[int, int | None],
        props: CommitProperties,
        changes: pa.Table,
    ) -> int:
        rows = scd2.current_rows(txn.unwritten(changes, stored))
        if table is None:
            rows = merge.drop_deletes(rows)
            merge.create(str(self.current.path), rows, props)
        else:
            merge.upsert(table, rows, props)
        return rows.num_rows

    def _close_all(
        self,
        table: DeltaTable | None,
        stored: Mapping[int, int | None],
        props: CommitProperties,
        position: str,
        ts_ms: int,
    ) -> int:
        if table is None:  # nothing to end; the commit still records the txns
            merge.create(str(self.history.path), scd2.history_rows(_empty_changes()), props)
        else:
            at = pa.scalar(ts_ms * 1000, pa.int64()).cast(scd2.HISTORY_META[0].type)
            merge.close_all(table, at, position, props)
        return 0

    def _truncate(
        self,
        table: DeltaTable | None,
        stored: Mapping[int, int | None],
        props: CommitProperties,
        position: str,
    ) -> int:
        if table is None:
            merge.create(str(self.current.path), scd2.current_rows(_empty_changes()), props)
        else:
            merge.delete_older(table, position, props)
        return 0


def _written_keys(changes: pa.Table, stored: Mapping[int, int | None]) -> set[str]:
    """Keys of the changes at or below their partition's stored txn version."""
    cols = (changes.column(c).to_pylist() for c in ("_partition", "_offset", "_key"))
    out = set()
    for p, offset, key in zip(*cols, strict=True):
        version = stored.get(p)
        if version is not None and offset <= version:
            out.add(key)
    return out


def _empty_changes() -> pa.Table:
    empty = TableSpec(name="", topic="").schema.empty_table()
    return scd2.changes_table(empty, [], [], [], [])


def _segments(batch: Batch, truncates: list[tuple[int, str, int]]) -> list[_Segment]:
    """The batch cut at its truncates: [start, end) index ranges, each with its last offset per
    partition (every record counts, also duplicates and rejects: the txns move past them)."""
    cuts: list[_Segment] = []
    start = 0
    for i, pos, ts_ms in truncates:
        if i > start:
            cuts.append(_Segment(start, i, {}))
        cuts.append(_Segment(i, i + 1, {}, (pos, ts_ms)))
        start = i + 1
    if start < len(batch) or not cuts:
        cuts.append(_Segment(start, len(batch), {}))
    for seg in cuts:
        for i in range(seg.start, seg.end):
            seg.last[batch.partitions[i]] = batch.offsets[i]
    return [seg for seg in cuts if seg.last]
