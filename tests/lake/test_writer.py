"""Exactly-once appends: txn versions per topic-partition, commits never rebased."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from headwater.lake import txn
from headwater.lake.writer import LakeTable

SCHEMA = pa.schema([("n", pa.int64()), ("event_date", pa.date32()), ("_partition", pa.int32()),
                    ("_offset", pa.int64())])  # fmt: skip


def rows(partition: int, first: int, last: int) -> pa.Table:
    offsets = list(range(first, last + 1))
    return pa.table(
        {
            "n": pa.array(offsets, pa.int64()),
            "event_date": pa.array([0] * len(offsets), pa.int32()).cast(pa.date32()),
            "_partition": pa.array([partition] * len(offsets), pa.int32()),
            "_offset": pa.array(offsets, pa.int64()),
        },
        schema=SCHEMA,
    )


def lake_table(path: Path) -> LakeTable:
    return LakeTable(path, "event_date", "sink", "topic")


def read(path: Path) -> list[tuple[int, int]]:
    t = DeltaTable(str(path)).to_pyarrow_table(columns=["_partition", "_offset"])
    return sorted(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))


def test_each_commit_stores_the_last_offset_per_partition(tmp_path: Path) -> None:
    table = lake_table(tmp_path / "t")
    assert table.stored([0, 1]) == {0: None, 1: None}
    both = pa.concat_tables([rows(0, 0, 4), rows(1, 0, 2)])
    result = table.append_once(lambda _: both, {0: 4, 1: 2})
    assert (result.version, result.rows) == (0, 8)
    assert table.stored([0, 1]) == {0: 4, 1: 2}
    log = DeltaTable(str(tmp_path / "t"))
    assert log.transaction_version(txn.app_id("sink", "topic", 0)) == 4


def test_a_batch_read_again_is_not_written_again(tmp_path: Path) -> None:
    table = lake_table(tmp_path / "t")
    table.append_once(lambda _: rows(0, 0, 9), {0: 9})
    again = table.append_once(lambda _: rows(0, 0, 9), {0: 9})
    assert (again.version, again.rows) == (None, 0)
    overlap = table.append_once(lambda _: rows(0, 5, 14), {0: 14})
    assert overlap.rows == 5
    assert read(tmp_path / "t") == [(0, o) for o in range(15)]


def test_a_writer_that_lost_the_race_drops_what_the_winner_wrote(tmp_path: Path) -> None:
    """Two sinks read the same table version (a rebalance, a stalled sink); the other commits
    first. delta-rs would rebase the loser's commit and duplicate offsets 10..19."""
    path = tmp_path / "t"
    loser, winner = lake_table(path), lake_table(path)
    loser.append_once(lambda _: rows(0, 0, 9), {0: 9})
    calls = []

    def build(_: object) -> pa.Table:
        calls.append(1)
        if len(calls) == 1:  # after the loser read the stored version 9
            assert winner.append_once(lambda _: rows(0, 10, 19), {0: 19}).rows == 10
        return rows(0, 10, 24)

    result = loser.append_once(build, {0: 24})
    assert (result.attempts, result.rows, result.stored) == (2, 5, {0: 19})
    assert read(path) == [(0, o) for o in range(25)]
    assert loser.stored([0]) == {0: 24}


def test_racing_writers_with_overlapping_batches_write_each_offset_once(tmp_path: Path) -> None:
    """Sinks that both believe they own partition 0 (a rebalance, a stalled sink) and a third
    writer of partition 1 commit at once: no offset twice, none missing."""
    path = tmp_path / "t"
    lake_table(path).append_once(lambda _: rows(1, 0, 0), {1: 0})  # create it
    errors: list[BaseException] = []

    def writer(partition: int, start: int, step: int) -> None:
        table = lake_table(path)
        try:
            for first in range(start, 200, step):
                last = first + step - 1
                table.append_once(
                    lambda _, f=first, la=last: rows(partition, f, la), {partition: last}
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=args)
               for args in ((0, 0, 10), (0, 0, 7), (1, 1, 9))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # Partition 0: batches of 10 up to 199 and of 7 up to 202; partition 1: 0, then 1..207.
    assert read(path) == [(0, o) for o in range(203)] + [(1, o) for o in range(208)]


def test_a_table_with_transaction_retention_is_refused(tmp_path: Path) -> None:
    write_deltalake(
        str(tmp_path / "t"),
        rows(0, 0, 0),
        configuration={txn.RETENTION_KEY: "interval 1 days"},
    )
    with pytest.raises(ValueError, match="setTransactionRetentionDuration"):
        lake_table(tmp_path / "t").stored([0])


def test_a_racing_sink_that_moved_past_our_commit_is_not_set_back(tmp_path: Path) -> None:
    """Our commit lands (offsets 0-4), then another sink of the same partition commits 5-9
    before we read the table back: its txn version (9) must stay, or the next batch is rewritten."""
    path = tmp_path / "t"
    ours, theirs = lake_table(path), lake_table(path)
    ours.append_once(lambda _: rows(0, 0, 0), {0: 0})  # create it

    def write_then_lose_the_race(table, stored, props) -> int:  # type: ignore[no-untyped-def]
        write_deltalake(table, txn.unwritten(rows(0, 1, 4), stored), mode="append",
                        partition_by=["event_date"], commit_properties=props)  # fmt: skip
        theirs.append_once(lambda _: rows(0, 5, 9), {0: 9})
        return 4

    ours.commit_once(write_then_lose_the_race, {0: 4})
    assert theirs.stored([0]) == {0: 9}
    theirs.append_once(lambda _: rows(0, 5, 12), {0: 12})
    assert read(path) == [(0, o) for o in range(13)]
