"""Repeated event ids are written once: within a batch, against the table, across a race between
writers of different partitions; a repeat older than the window is written again."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from headwater.lake import txn
from headwater.lake.dedup import RepeatFilter, first_occurrences
from headwater.lake.writer import LakeTable

HOUR_US = 3_600_000_000
BASE_US = 1_699_996_400_000_000
SCHEMA = pa.schema([("event_id", pa.string()), ("received_ts", pa.timestamp("us", tz="UTC")),
                    ("event_date", pa.date32()), ("_partition", pa.int32()),
                    ("_offset", pa.int64())])  # fmt: skip


def rows(partition: int, first: int, ids: list[str | None], arrived_us: int = BASE_US) -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "event_id": pa.array(ids, pa.string()),
            "received_ts": pa.array([arrived_us + i for i in range(n)], pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "event_date": pa.array([19675] * n, pa.int32()).cast(pa.date32()),
            "_partition": pa.array([partition] * n, pa.int32()),
            "_offset": pa.array(range(first, first + n), pa.int64()),
        },
        schema=SCHEMA,
    )


def writer(path: Path, window_s: float = 3600) -> tuple[LakeTable, RepeatFilter]:
    return LakeTable(path, "event_date", "sink", "topic"), RepeatFilter(
        path, "event_id", "received_ts", window_s
    )


def landed(path: Path) -> list[tuple[str, int, int]]:
    t = DeltaTable(str(path)).to_pyarrow_table(columns=["event_id", "_partition", "_offset"])
    return sorted(zip(*(c.to_pylist() for c in t.columns), strict=True))


def test_first_occurrences_keeps_the_first_of_each_key_and_every_null() -> None:
    keys = pc.dictionary_encode(pa.array(["a", "b", "a", None, "c", "b", None]))
    assert first_occurrences(keys).tolist() == [True, True, False, True, True, False, True]
    assert first_occurrences(pc.dictionary_encode(pa.array(["a", None, "b"]))).all()


def test_a_key_repeated_in_one_batch_is_written_once(tmp_path: Path) -> None:
    table, repeats = writer(tmp_path / "t")
    result = table.append_once(lambda _: rows(0, 0, ["a", "b", "a", "c", "b"]), {0: 4},
                               repeats.apply)  # fmt: skip
    assert result.rows == 3
    assert (repeats.last.dropped, repeats.last.sample) == (2, ("a", "b"))
    assert landed(tmp_path / "t") == [("a", 0, 0), ("b", 0, 1), ("c", 0, 3)]
    assert table.stored([0]) == {0: 4}  # the repeats' offsets are consumed all the same


def test_a_key_already_in_the_table_is_not_written_again(tmp_path: Path) -> None:
    table, repeats = writer(tmp_path / "t")
    table.append_once(lambda _: rows(0, 0, ["a", "b"]), {0: 1}, repeats.apply)
    # A retry in another partition, and a later batch of the first partition.
    again = table.append_once(lambda _: rows(1, 0, ["b", "x"]), {1: 1}, repeats.apply)
    assert (again.rows, repeats.last.dropped) == (1, 1)
    later = table.append_once(lambda _: rows(0, 2, ["a", "x", "y"]), {0: 4}, repeats.apply)
    assert (later.rows, repeats.last.dropped) == (1, 2)
    assert [r[0] for r in landed(tmp_path / "t")] == ["a", "b", "x", "y"]


def test_a_new_writer_reads_the_keys_back_from_the_table(tmp_path: Path) -> None:
    """A restarted sink has no cache: the table is the memory."""
    first, repeats = writer(tmp_path / "t")
    first.append_once(lambda _: rows(0, 0, ["a", "b"]), {0: 1}, repeats.apply)
    second, fresh = writer(tmp_path / "t")
    result = second.append_once(lambda _: rows(0, 2, ["b", "c"]), {0: 3}, fresh.apply)
    assert (result.rows, fresh.last.dropped) == (1, 1)


def test_a_repeat_that_arrived_after_the_window_is_written_again(tmp_path: Path) -> None:
    table, repeats = writer(tmp_path / "t", window_s=3600)
    table.append_once(lambda _: rows(0, 0, ["a"]), {0: 0}, repeats.apply)
    within = table.append_once(lambda _: rows(0, 1, ["a"], BASE_US + HOUR_US - 1), {0: 1},
                               repeats.apply)  # fmt: skip
    assert within.rows == 0
    after = table.append_once(lambda _: rows(0, 2, ["a"], BASE_US + 2 * HOUR_US), {0: 2},
                              repeats.apply)  # fmt: skip
    assert after.rows == 1
    assert repeats._files == {}  # memory: both earlier files left the window and were forgotten


def test_a_commit_that_lost_a_race_to_another_partition_drops_the_winners_keys(
    tmp_path: Path,
) -> None:
    """Two sinks own partitions 0 and 1; a retried event went to both. Both read the table
    before either commits: the second commit must not be rebased over the first (delta-rs would,
    their partitions' txns differ), but lose, re-read and leave its copy out."""
    path = tmp_path / "t"
    (loser, loser_repeats), (winner, winner_repeats) = writer(path), writer(path)
    loser.append_once(lambda _: rows(0, 0, ["seed"]), {0: 0}, loser_repeats.apply)
    calls = []

    def build(_: object) -> pa.Table:
        calls.append(1)
        if len(calls) == 1:  # after the loser read the table
            won = winner.append_once(lambda _: rows(1, 0, ["retried", "w"]), {1: 1},
                                     winner_repeats.apply)  # fmt: skip
            assert won.rows == 2
        return rows(0, 1, ["retried", "l"])

    result = loser.append_once(build, {0: 2}, loser_repeats.apply)
    assert (result.attempts, result.rows, loser_repeats.last.dropped) == (2, 1, 1)
    assert [r[0] for r in landed(path)] == ["l", "retried", "seed", "w"]
    log = DeltaTable(str(path))
    assert log.transaction_version(txn.table_app_id("sink", "topic")) == log.version()


@pytest.mark.parametrize("ids", [[None, None], []])
def test_rows_without_keys_are_all_written(tmp_path: Path, ids: list[str | None]) -> None:
    table, repeats = writer(tmp_path / "t")
    table.append_once(lambda _: rows(0, 0, ["a"]), {0: 0}, repeats.apply)
    result = table.append_once(lambda _: rows(0, 1, ids), {0: len(ids)}, repeats.apply)
    assert result.rows == len(ids) and repeats.last.dropped == 0
