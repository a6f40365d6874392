"""Compaction of one partition against Kafka's semantics (LogCleaner, MemoryRecords.filterTo)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from headwater.broker.log import PartitionLog
from headwater.broker.log.batch import BatchHeader, iter_batches
from headwater.broker.log.compaction import (
    CHECKPOINT_FILE,
    CleaningAborted,
    clean,
    needs_cleaning,
    read_checkpoint,
)

from .compacted import T0, gzip_batch, latest_per_key, put, rows
from .conftest import OpenLog, abandon

COMPACT = {"cleanup_policy": "compact", "segment_bytes": 1}  # one batch per segment
DAY = 86_400_000


def _interleaved(log: PartitionLog, rounds: int, keys: int = 3) -> None:
    """`rounds` batches, each updating every key once, one batch per segment."""
    for r in range(rounds):
        put(log, [(f"k{k}".encode(), f"v{r}-{k}".encode()) for k in range(keys)])


def test_latest_record_per_key_survives_with_its_original_offset(open_log: OpenLog) -> None:
    log = open_log(**COMPACT)
    _interleaved(log, 20)
    put(log, [(b"k0", b"in-active")])  # the active segment: never cleaned
    before = rows(log)
    result = clean(log, T0)
    assert result is not None and result.records_removed == 19 * 3
    after = rows(log)
    sealed_latest = latest_per_key(before[:-1])
    assert after == sorted([*sealed_latest.values(), before[-1]])
    assert log.log_end_offset == 61 and log.log_start_offset == 0


def test_active_segment_keeps_every_record_even_when_superseded(open_log: OpenLog) -> None:
    log = open_log(cleanup_policy="compact", segment_bytes=10_000)
    put(log, [(b"a", b"1")])
    put(log, [(b"a", b"2")])  # same segment: active
    active = log.segments[-1]
    size = active.size
    assert clean(log, T0) is None
    assert [v for _, _, v in rows(log)] == [b"1", b"2"]
    assert active.size == size and log.segments[-1] is active


def test_keys_interleaved_across_many_segments_end_up_one_each(open_log: OpenLog) -> None:
    log = open_log(cleanup_policy="compact", segment_bytes=600)
    for i in range(300):
        put(log, [(f"key{i % 7}".encode(), f"value{i}".encode())])
    put(log, [(b"other", b"x")])
    active_base = log.segments[-1].base_offset
    before = rows(log)
    expected = latest_per_key([r for r in before if r[0] < active_base])
    clean(log, T0)
    after = rows(log)
    assert [r for r in after if r[0] < active_base] == sorted(expected.values())
    assert [r for r in after if r[0] >= active_base] == [r for r in before if r[0] >= active_base]
    assert len(log.segments) > 40  # grouped by their size before cleaning, as Kafka does
    clean(log, T0)  # the next pass merges the small cleaned segments up to segment.bytes
    assert len(log.segments) < 5
    assert [r for r in rows(log) if r[0] < active_base] == sorted(expected.values())


def test_reading_from_a_removed_offset_returns_the_next_retained_record(
    open_log: OpenLog,
) -> None:
    log = open_log(**COMPACT)
    put(log, [(b"a", b"old"), (b"b", b"b1")])  # offsets 0, 1
    put(log, [(b"a", b"new")])  # offset 2
    put(log, [(b"c", b"c1")])  # active
    clean(log, T0)
    assert rows(log, 0) == [(1, b"b", b"b1"), (2, b"a", b"new"), (3, b"c", b"c1")]
    header = BatchHeader.parse(bytes(log.read(0, 1 << 20)))
    assert (header.base_offset, header.last_offset_delta, header.records_count) == (0, 1, 1)


def test_tombstone_is_kept_for_delete_retention_then_removed(open_log: OpenLog) -> None:
    log = open_log(**COMPACT, delete_retention_ms=DAY)
    put(log, [(b"gone", b"v1"), (b"stays", b"s")])
    put(log, [(b"gone", None)], now_ms=T0 + 10)  # the tombstone
    put(log, [(b"other", b"o")], now_ms=T0 + 20)  # active
    clean(log, T0 + 100)
    assert [(k, v) for _, k, v in rows(log)] == [
        (b"stays", b"s"),
        (b"gone", None),
        (b"other", b"o"),
    ]
    checkpoint = read_checkpoint(log.directory)
    assert checkpoint.tombstone_expiry_ms == T0 + 10 + DAY
    assert not needs_cleaning(log, T0 + 10 + DAY - 1)  # nothing dirty, tombstone not due
    assert needs_cleaning(log, T0 + 10 + DAY)  # due: cleaned without new dirty data
    clean(log, T0 + 10 + DAY)
    assert [(k, v) for _, k, v in rows(log)] == [(b"stays", b"s"), (b"other", b"o")]
    assert read_checkpoint(log.directory).tombstone_expiry_ms == -1


def test_dirty_ratio_below_the_minimum_waits(open_log: OpenLog) -> None:
    log = open_log(**COMPACT, min_cleanable_dirty_ratio=0.9)
    _interleaved(log, 10)
    put(log, [(b"x", b"active")])
    assert needs_cleaning(log, T0)
    clean(log, T0)
    assert read_checkpoint(log.directory).offset == log.segments[-1].base_offset
    _interleaved(log, 1)  # rolls the active one: 2 dirty segments beside 1 clean one
    assert not needs_cleaning(log, T0)


def test_min_compaction_lag_keeps_recent_segments_uncleaned(open_log: OpenLog) -> None:
    log = open_log(**COMPACT, min_compaction_lag_ms=1000)
    put(log, [(b"a", b"old")], now_ms=T0)
    put(log, [(b"a", b"recent")], now_ms=T0 + 5000)
    put(log, [(b"a", b"newest")], now_ms=T0 + 5000)  # active
    clean(log, T0 + 5500)  # only the first segment is old enough: nothing supersedes it there
    assert [v for _, _, v in rows(log)] == [b"old", b"recent", b"newest"]
    clean(log, T0 + 6000)
    assert [v for _, _, v in rows(log)] == [b"recent", b"newest"]


def test_records_without_a_key_are_kept(open_log: OpenLog) -> None:
    log = open_log(**COMPACT)
    put(log, [(None, b"n1"), (b"k", b"1")])
    put(log, [(None, b"n2"), (b"k", b"2")])
    put(log, [(b"z", b"z")])
    clean(log, T0)
    assert [(k, v) for _, k, v in rows(log)] == [
        (None, b"n1"),
        (None, b"n2"),
        (b"k", b"2"),
        (b"z", b"z"),
    ]


def test_gzip_batches_are_rewritten_compressed_and_stay_readable(open_log: OpenLog) -> None:
    log = open_log(**COMPACT)
    log.append(gzip_batch([(b"a", b"1" * 100), (b"b", b"2" * 100), (b"c", b"3" * 100)]), T0)
    log.append(gzip_batch([(b"b", b"4" * 100)]), T0)
    put(log, [(b"z", b"z")])
    clean(log, T0)
    assert [(k, v[:1] if v else v) for _, k, v in rows(log)] == [
        (b"a", b"1"),
        (b"c", b"3"),
        (b"b", b"4"),
        (b"z", b"z"),
    ]
    first = log.segments[0]
    header = next(iter_batches(os.pread(os.open(first.log_path, os.O_RDONLY), 1 << 20, 0)))[1]
    assert header.compression == 1 and header.records_count == 2


def test_an_idempotent_producer_continues_after_its_batches_were_cleaned(
    open_log: OpenLog, tmp_path: Path
) -> None:
    """Kafka keeps the last batch of each producer, even empty, so its sequence survives."""
    log = open_log(**COMPACT)
    producer = {"producer_id": 7, "producer_epoch": 0}
    put(log, [(b"keep", b"1"), (b"b", b"1")], base_sequence=0, **producer)
    put(log, [(b"a", b"2"), (b"b", b"2")], base_sequence=2, **producer)  # last of producer 7
    put(log, [(b"a", b"3"), (b"b", b"3")])  # supersedes that batch whole
    put(log, [(b"z", b"z")])
    clean(log, T0)
    assert [v for _, _, v in rows(log)] == [b"1", b"3", b"3", b"z"]
    kept = [h for s in log.segments for _, h in s.iter_headers() if h.producer_id == 7]
    assert [(h.base_offset, h.records_count, h.last_offset_delta) for h in kept] == [
        (0, 1, 1),
        (2, 0, 1),  # empty, kept: without it the replayed state would end at sequence 1
    ]
    abandon(log)
    for snapshot in tmp_path.glob("t-0/*.snapshot"):  # rebuild producer state from the log
        snapshot.unlink()
    reopened = open_log(**COMPACT)
    first, _ = put(reopened, [(b"a", b"4")], base_sequence=4, **producer)
    assert first == reopened.log_end_offset - 1
    retry = reopened.append(
        _with_offset_zero(reopened, first),
        T0,
    )
    assert retry.duplicate and retry.base_offset == first


def _with_offset_zero(log: PartitionLog, offset: int) -> bytes:
    """The batch at `offset` as the client sent it (base offset 0): a retry."""
    data = bytearray(log.read(offset, 1 << 20))
    header = BatchHeader.parse(data)
    struct.pack_into(">q", data, 0, 0)
    return bytes(data[: header.size])


def test_a_pass_stops_when_retention_deleted_its_segments_meanwhile(
    open_log: OpenLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log(cleanup_policy="compact,delete", segment_bytes=1, retention_ms=1000)
    _interleaved(log, 3)
    put(log, [(b"z", b"z")], now_ms=T0 + 10_000)
    from headwater.broker.log import compaction

    real = compaction._copy_group

    def copy_then_retention(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        log.apply_retention(T0 + 10_000)
        return result

    monkeypatch.setattr(compaction, "_copy_group", copy_then_retention)
    assert clean(log, T0 + 10_000) is None
    assert [v for _, _, v in rows(log)] == [b"z"]
    assert not list(log.directory.glob("*.cleaned")) and not list(log.directory.glob("*.swap"))


def test_compact_alone_deletes_nothing_by_time_and_compact_delete_does(open_log: OpenLog) -> None:
    compact_only = open_log(cleanup_policy="compact", segment_bytes=1, retention_ms=1)
    put(compact_only, [(b"a", b"1")])
    put(compact_only, [(b"b", b"1")])
    assert compact_only.apply_retention(T0 + DAY) == 0
    abandon(compact_only)
    both = PartitionLog(
        compact_only.directory.parent / "u-0",
        compact_only.config.with_overrides({"cleanup.policy": "compact,delete"}),
        "u",
        0,
        now_ms=T0,
    )
    put(both, [(b"a", b"1")])
    put(both, [(b"b", b"1")])
    assert both.apply_retention(T0 + DAY) == 2  # all expired: rolled, then both deleted
    assert rows(both) == []
    abandon(both)


def test_the_checkpoint_survives_a_reopen(open_log: OpenLog) -> None:
    log = open_log(**COMPACT)
    _interleaved(log, 4)
    put(log, [(b"z", b"z")])
    clean(log, T0)
    assert (log.directory / CHECKPOINT_FILE).exists()
    log.close()
    reopened = open_log(**COMPACT)
    assert read_checkpoint(reopened.directory).offset == 12
    assert not needs_cleaning(reopened, T0)


@pytest.mark.parametrize("after", [0, 5, 15])  # while mapping keys, while copying
def test_a_pass_told_to_stop_leaves_the_log_as_it_was(open_log: OpenLog, after: int) -> None:
    log = open_log(**COMPACT)
    _interleaved(log, 10)
    put(log, [(b"z", b"z")])
    log.close()
    log = open_log(cleanup_policy="compact", segment_bytes=1 << 20)  # one group: one swap
    before = rows(log)
    asked = iter(range(10_000))
    with pytest.raises(CleaningAborted):
        clean(log, T0, stop=lambda: next(asked) >= after)
    assert rows(log) == before
    assert [p.name for p in log.directory.iterdir() if p.suffix == ".cleaned"] == []


def test_the_last_record_of_a_quiet_log_stays_after_a_roll(open_log: OpenLog) -> None:
    """A consumer finds the partition's end by reaching a record at log end - 1 (librdkafka's
    EOF, kcat -e, the position reader): in Kafka that record is always in the active segment."""
    log = open_log(cleanup_policy="compact", segment_ms=1000, delete_retention_ms=0)
    put(log, [(b"a", b"1"), (b"b", b"1")])
    put(log, [(b"a", b"2"), (b"a", b"3"), (b"b", None)], now_ms=T0 + 1)  # tombstone due at once
    assert log.roll_if_quiet(T0 + 1000)
    clean(log, T0 + 1000)
    assert rows(log) == [(3, b"a", b"3"), (4, b"b", None)]
    assert rows(log, 4) == [(4, b"b", None)]
    put(log, [(b"c", b"1")], now_ms=T0 + 2000)  # no longer last: goes like any other
    assert log.roll_if_quiet(T0 + 3000)
    clean(log, T0 + 3000)
    assert rows(log) == [(3, b"a", b"3"), (5, b"c", b"1")]
