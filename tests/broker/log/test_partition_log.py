"""PartitionLog: append/read, validation, idempotence, rolling, timestamps, retention, flushing."""

from __future__ import annotations

import os
import struct

import pytest

from headwater.broker.log import (
    CorruptRecordError,
    InvalidProducerEpochError,
    InvalidRecordError,
    OffsetOutOfRangeError,
    OutOfOrderSequenceError,
    RecordTooLargeError,
)

from .batches import corrupt, make_batch, rebase, recrc, values
from .conftest import OpenLog, abandon, record_calls


def idempotent(seq: int, n: int = 2, epoch: int = 0, pid: int = 77) -> bytes:
    return make_batch(
        values(n, tag=f"s{seq}"), producer_id=pid, producer_epoch=epoch, base_sequence=seq
    )


def test_append_read_round_trip_is_byte_exact_except_base_offset(open_log: OpenLog) -> None:
    log = open_log()
    first = make_batch(values(3), keys=[b"a", None, b"c"])
    second, third = make_batch(values(1)), make_batch(values(4, size=100))
    r1 = log.append(first + second, now_ms=1)
    r2 = log.append(bytearray(third), now_ms=2)
    assert (r1.base_offset, r1.last_offset, r1.record_count, r1.duplicate) == (0, 3, 4, False)
    assert (r2.base_offset, r2.last_offset, r2.log_start_offset) == (4, 7, 0)
    assert log.log_end_offset == 8
    expected = rebase(first, 0) + rebase(second, 3) + rebase(third, 4)
    assert log.read(0, 10_000) == expected
    assert log.size_bytes == len(expected)


def test_append_accepts_a_memoryview_slice(open_log: OpenLog) -> None:
    log = open_log()
    batch = make_batch(values(2))
    frame = b"header" + batch + b"trailer"
    log.append(memoryview(frame)[6 : 6 + len(batch)], now_ms=0)
    assert log.read(0, 1000) == batch


def test_read_from_the_middle_of_a_batch_returns_the_whole_batch(open_log: OpenLog) -> None:
    log = open_log()
    batch = make_batch(values(10))
    log.append(make_batch(values(1)), now_ms=0)
    log.append(batch, now_ms=0)
    assert log.read(6, 1) == rebase(batch, 1)


def test_oversize_first_batch_is_returned_whole(open_log: OpenLog) -> None:
    log = open_log()
    big, small = make_batch(values(50, size=100)), make_batch(values(1))
    log.append(big + small, now_ms=0)
    assert log.read(0, 100) == rebase(big, 0)  # KIP-74: max_bytes < first batch
    assert log.read(0, len(big) + len(small) - 1) == rebase(big, 0)
    assert len(log.read(0, len(big) + len(small))) == len(big) + len(small)


def test_read_at_log_end_is_empty_and_outside_the_log_is_out_of_range(open_log: OpenLog) -> None:
    log = open_log()
    log.append(make_batch(values(2)), now_ms=0)
    assert log.read(2, 1000) == b""
    with pytest.raises(OffsetOutOfRangeError, match=r"offset 3 is outside \[0, 2\] of t-0"):
        log.read(3, 1000)
    with pytest.raises(OffsetOutOfRangeError):
        log.read(-1, 1000)


def test_bad_crc_in_any_batch_stores_nothing(open_log: OpenLog) -> None:
    log = open_log()
    good = make_batch(values(2))
    with pytest.raises(CorruptRecordError, match=r"batch at byte \d+ \(base offset 0\) has CRC"):
        log.append(good + corrupt(good, 40), now_ms=0)
    assert log.log_end_offset == 0
    assert log.size_bytes == 0 == os.path.getsize(log.segments[0].log_path)


def test_trailing_partial_batch_is_rejected_whole(open_log: OpenLog) -> None:
    log = open_log()
    good = make_batch(values(2))
    with pytest.raises(CorruptRecordError, match="declares length"):
        log.append(good + good[:-1], now_ms=0)
    assert log.log_end_offset == 0


def test_empty_produce_is_invalid(open_log: OpenLog) -> None:
    with pytest.raises(InvalidRecordError, match="no record batch"):
        open_log().append(b"", now_ms=0)


def test_batch_larger_than_max_message_bytes_is_too_large(open_log: OpenLog) -> None:
    batch = make_batch(values(10, size=100))
    log = open_log(max_message_bytes=len(batch) - 1)
    with pytest.raises(RecordTooLargeError, match=f"is {len(batch)} bytes"):
        log.append(batch, now_ms=0)
    assert log.log_end_offset == 0


def test_batches_breaking_broker_rules_are_invalid(open_log: OpenLog) -> None:
    log = open_log()
    miscounted = bytearray(make_batch(values(3)))
    struct.pack_into(">i", miscounted, 57, 4)  # recordsCount 4 over 3 offsets
    control = make_batch(values(1), attributes=0x20)
    for bad in (recrc(miscounted), control):
        with pytest.raises(InvalidRecordError):
            log.append(bad, now_ms=0)
    assert log.log_end_offset == 0


def test_idempotent_retry_returns_original_offsets_and_stores_nothing(open_log: OpenLog) -> None:
    log = open_log()
    log.append(make_batch(values(5)), now_ms=0)
    first = log.append(idempotent(0), now_ms=0)
    log.append(idempotent(2), now_ms=0)
    size = log.size_bytes
    retry = log.append(idempotent(0), now_ms=0)
    assert retry.duplicate
    assert (
        (retry.base_offset, retry.last_offset) == (first.base_offset, first.last_offset) == (5, 6)
    )
    assert (log.size_bytes, log.log_end_offset) == (size, 9)


@pytest.mark.parametrize("clean", [True, False], ids=["clean-close", "crash"])
def test_idempotent_retry_is_recognised_after_reopen(open_log: OpenLog, clean: bool) -> None:
    log = open_log(segment_bytes=300)
    results = [log.append(idempotent(seq), now_ms=0) for seq in range(0, 20, 2)]
    assert len(log.segments) > 2
    log.close() if clean else abandon(log)
    log = open_log(segment_bytes=300)
    retry = log.append(idempotent(16), now_ms=0)
    assert retry.duplicate and retry.base_offset == results[8].base_offset
    with pytest.raises(OutOfOrderSequenceError):
        log.append(idempotent(22), now_ms=0)
    assert log.append(idempotent(20), now_ms=0).base_offset == 20


def test_sequence_gap_is_rejected_and_stores_nothing(open_log: OpenLog) -> None:
    log = open_log()
    log.append(idempotent(0), now_ms=0)
    with pytest.raises(OutOfOrderSequenceError):
        log.append(idempotent(3), now_ms=0)
    assert log.log_end_offset == 2


def test_old_epoch_is_fenced(open_log: OpenLog) -> None:
    log = open_log()
    log.append(idempotent(0, epoch=1), now_ms=0)
    log.append(idempotent(0, epoch=2), now_ms=0)
    with pytest.raises(InvalidProducerEpochError):
        log.append(idempotent(2, epoch=1), now_ms=0)


def test_segment_rolls_before_an_append_would_overflow_segment_bytes(open_log: OpenLog) -> None:
    batch = make_batch(values(2))
    log = open_log(segment_bytes=3 * len(batch))
    for _ in range(7):
        log.append(batch, now_ms=0)
    assert [s.base_offset for s in log.segments] == [0, 6, 12]
    assert [s.size for s in log.segments] == [3 * len(batch), 3 * len(batch), len(batch)]
    names = sorted(p.name for p in log.directory.iterdir() if p.suffix == ".log")
    assert names == [
        "00000000000000000000.log",
        "00000000000000000006.log",
        "00000000000000000012.log",
    ]
    for offset in range(14):
        assert log.read(offset, 1) == rebase(batch, offset - offset % 2)


def test_segment_rolls_by_age(open_log: OpenLog) -> None:
    log = open_log(segment_ms=1000)
    log.append(make_batch(values(1)), now_ms=5000)
    log.append(make_batch(values(1)), now_ms=5999)
    assert len(log.segments) == 1
    log.append(make_batch(values(1)), now_ms=6000)
    assert [s.base_offset for s in log.segments] == [0, 2]


def test_offset_for_timestamp_finds_first_batch_at_or_after(open_log: OpenLog) -> None:
    log = open_log(segment_bytes=400, index_interval_bytes=1)
    for i in range(20):
        log.append(make_batch(values(2), timestamp=1000 + 10 * i), now_ms=0)
    assert len(log.segments) > 3
    assert log.offset_for_timestamp(0) == (0, 1000)
    assert log.offset_for_timestamp(1055) == (12, 1060)
    assert log.offset_for_timestamp(1190) == (38, 1190)
    assert log.offset_for_timestamp(1191) is None


def test_max_timestamp_finds_the_batch_with_the_largest_timestamp(open_log: OpenLog) -> None:
    log = open_log(segment_bytes=400, index_interval_bytes=1)
    assert log.max_timestamp() is None
    stamps = [1000, 5000, 2000, 4000, 3000, 1500, 4500, 100]
    for ts in stamps:
        log.append(make_batch(values(2), timestamp=ts), now_ms=0)
    assert len(log.segments) >= 2
    assert log.max_timestamp() == (3, 5000)  # last offset of the second batch


def test_time_retention_deletes_old_segments_and_advances_log_start(open_log: OpenLog) -> None:
    batch_size = len(make_batch(values(2)))
    log = open_log(segment_bytes=2 * batch_size, retention_ms=1000)
    for ts in (100, 200, 300, 400, 5000, 5100):
        log.append(make_batch(values(2), timestamp=ts), now_ms=0)
    assert len(log.segments) == 3
    assert log.apply_retention(now_ms=1300) == 1  # newest of segment 0 is 200: expired
    assert log.log_start_offset == 4
    with pytest.raises(OffsetOutOfRangeError):
        log.read(3, 100)
    assert log.read(4, 100) != b""
    assert log.apply_retention(now_ms=1400) == 0  # exactly retention.ms old: kept
    assert log.apply_retention(now_ms=1401) == 1
    assert log.log_start_offset == 8
    assert not (log.directory / "00000000000000000000.log").exists()


def test_time_retention_of_an_expired_active_segment_rolls_it_away(open_log: OpenLog) -> None:
    log = open_log(retention_ms=1000)
    log.append(make_batch(values(3), timestamp=100), now_ms=100)
    assert log.apply_retention(now_ms=2000) == 1
    assert (log.log_start_offset, log.log_end_offset, log.size_bytes) == (3, 3, 0)
    assert log.read(3, 100) == b""
    assert log.append(make_batch(values(1)), now_ms=2000).base_offset == 3


def test_size_retention_keeps_at_least_retention_bytes(open_log: OpenLog) -> None:
    batch = make_batch(values(2))
    log = open_log(segment_bytes=2 * len(batch), retention_bytes=3 * len(batch))
    for _ in range(7):  # segments of 2, 2, 2, 1 batches
        log.append(batch, now_ms=0)
    assert log.apply_retention(now_ms=0) == 2
    assert log.size_bytes == 3 * len(batch)
    assert log.log_start_offset == 8
    with pytest.raises(OffsetOutOfRangeError):
        log.read(0, 100)


def test_compacted_topics_are_not_deleted_by_retention(open_log: OpenLog) -> None:
    log = open_log(retention_ms=0, cleanup_policy="compact")
    log.append(make_batch(values(1), timestamp=1), now_ms=0)
    assert log.apply_retention(now_ms=10**12) == 0


def test_retention_forgets_producers_of_deleted_segments(open_log: OpenLog) -> None:
    batch_size = len(idempotent(0))
    log = open_log(segment_bytes=batch_size, retention_bytes=0)
    log.append(idempotent(0, pid=1), now_ms=0)
    log.append(idempotent(0, pid=2), now_ms=0)
    log.apply_retention(now_ms=0)
    # producer 1 is unknown again, so any sequence is accepted (Kafka behaves the same)
    assert not log.append(idempotent(40, pid=1), now_ms=0).duplicate


def test_flush_policy_always_syncs_every_append(
    open_log: OpenLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = record_calls(monkeypatch, os, "fdatasync")
    log = open_log(flush_policy="always")
    log.append(make_batch(values(1)), now_ms=0)
    log.append(make_batch(values(1)), now_ms=0)
    assert len(synced) == 2


def test_flush_due_honours_the_interval(open_log: OpenLog, monkeypatch: pytest.MonkeyPatch) -> None:
    log = open_log(flush_interval_ms=1000, now_ms=0)
    log.append(make_batch(values(1)), now_ms=0)
    assert log.dirty
    synced = record_calls(monkeypatch, os, "fdatasync")
    log.flush_due(now_ms=999)
    assert synced == []
    log.flush_due(now_ms=1000)
    assert len(synced) == 1
    assert not log.dirty
    log.flush_due(now_ms=5000)
    assert len(synced) == 1


def test_recovery_point_follows_flushed_segments(open_log: OpenLog) -> None:
    batch = make_batch(values(2))
    log = open_log(segment_bytes=len(batch), flush_policy="never")
    for _ in range(3):
        log.append(batch, now_ms=0)
    log.flush_due(now_ms=0)  # never: sealed segments still get synced
    assert (log.directory / "recovery-point").read_text() == "4\n"


def test_delete_removes_the_directory(open_log: OpenLog) -> None:
    log = open_log()
    log.append(make_batch(values(1)), now_ms=0)
    log.delete()
    assert not log.directory.exists()


def test_segment_age_after_a_restart_counts_from_its_first_batch(open_log: OpenLog) -> None:
    log = open_log(segment_ms=3000, now_ms=1000)
    log.append(make_batch(values(1), timestamp=1000), now_ms=1000)
    log.close()
    log = open_log(segment_ms=3000, now_ms=3500)
    log.append(make_batch(values(1), timestamp=3500), now_ms=3500)
    assert len(log.segments) == 1
    log.append(make_batch(values(1), timestamp=4000), now_ms=4000)
    assert [s.base_offset for s in log.segments] == [0, 2]


def test_flush_of_a_deleted_log_is_a_no_op(open_log: OpenLog) -> None:
    """The broker may flush in a worker thread while the loop deletes the topic."""
    log = open_log()
    log.append(make_batch(values(1)), now_ms=0)
    log.delete()
    log.flush()
    log.flush_due(now_ms=10**9)
