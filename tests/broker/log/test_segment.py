"""LogSegment: appends, whole-batch reads, sparse indexes, roll conditions, recovery."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.broker.log import BatchHeader, LogStorageError
from headwater.broker.log.batch import set_base_offset
from headwater.broker.log.segment import LogSegment

from .batches import make_batch, rebase, values


def append(segment: LogSegment, *batches: bytes, now_ms: int = 0) -> list[int]:
    """Append batches the way PartitionLog does; returns their base offsets."""
    data = bytearray(b"".join(batches))
    placed, pos, offset = [], 0, segment.next_offset
    for batch in batches:
        header = BatchHeader.parse(batch)
        set_base_offset(data, pos, offset)
        placed.append((pos, offset, header))
        pos += len(batch)
        offset += header.records_count
    segment.append(data, placed, now_ms)
    return [base for _, base, _ in placed]


@pytest.fixture
def segment(tmp_path: Path) -> Iterator[LogSegment]:
    seg = LogSegment(tmp_path, 50, index_interval_bytes=100, now_ms=0, create=True)
    yield seg
    seg.close()


def test_read_returns_stored_batches_with_stamped_offsets(segment: LogSegment) -> None:
    first, second = make_batch(values(3)), make_batch(values(2))
    assert append(segment, first, second) == [50, 53]
    assert segment.next_offset == 55
    assert segment.read(50, 10_000) == rebase(first, 50) + rebase(second, 53)
    assert segment.log_path.read_bytes() == rebase(first, 50) + rebase(second, 53)


def test_read_from_the_middle_of_a_batch_returns_the_whole_batch(segment: LogSegment) -> None:
    batches = [make_batch(values(5, tag=f"b{i}")) for i in range(10)]
    bases = append(segment, *batches)
    for base, batch in zip(bases, batches, strict=True):
        for offset in range(base, base + 5):
            assert segment.read(offset, len(batch)) == rebase(batch, base)


def test_read_cuts_at_a_batch_boundary_but_returns_at_least_one_batch(segment: LogSegment) -> None:
    batch = make_batch(values(3))
    append(segment, batch, batch, batch)
    assert len(segment.read(50, 1)) == len(batch)
    assert len(segment.read(50, 2 * len(batch) + 10)) == 2 * len(batch)


def test_read_past_the_last_batch_is_empty(segment: LogSegment) -> None:
    append(segment, make_batch(values(2)))
    assert segment.read(52, 1000) == b""


def test_index_gets_an_entry_per_interval_bytes(segment: LogSegment) -> None:
    batch = make_batch(values(1, size=40))  # 119 bytes, more than the 100-byte interval
    append(segment, *[batch] * 6)
    # Kafka's rule: a batch is indexed once more than interval bytes were appended since the
    # last entry, so every batch but the first is.
    assert len(segment.index) == 5
    assert segment.index.lookup(53) == 3 * len(batch)


def test_rebuilt_indexes_equal_the_ones_written_by_appends(segment: LogSegment) -> None:
    for i in range(40):
        append(segment, make_batch(values(1 + i % 3, size=30), timestamp=1000 + i * (i % 4)))
    segment.seal()
    segment.close_index_files()
    index_bytes = segment.index.path.read_bytes()
    time_bytes = segment.time_index.path.read_bytes()
    segment.rebuild_indexes()
    segment.close_index_files()
    assert segment.index.path.read_bytes() == index_bytes
    assert segment.time_index.path.read_bytes() == time_bytes
    assert len(index_bytes) > 8 * 10


def test_find_by_timestamp_returns_first_batch_at_or_after(segment: LogSegment) -> None:
    for ts in (100, 300, 200, 400):
        append(segment, make_batch(values(2), timestamp=ts))
    assert segment.find_by_timestamp(50) == (50, 100)
    assert segment.find_by_timestamp(250) == (52, 300)
    assert segment.find_by_timestamp(301) == (56, 400)
    assert segment.find_by_timestamp(401) is None
    assert segment.max_timestamp == 400


def test_is_full_by_size_and_by_age(segment: LogSegment) -> None:
    assert not segment.is_full(10**9, 60, now_ms=10**12, segment_bytes=1, segment_ms=1)
    batch = make_batch(values(1))
    append(segment, batch, now_ms=1000)
    size = len(batch)
    assert not segment.is_full(size, 51, 1000, segment_bytes=2 * size, segment_ms=500)
    assert segment.is_full(size + 1, 51, 1000, segment_bytes=2 * size, segment_ms=500)
    assert not segment.is_full(size, 51, 1499, segment_bytes=2 * size, segment_ms=500)
    assert segment.is_full(size, 51, 1500, segment_bytes=2 * size, segment_ms=500)


def test_recover_keeps_a_valid_file_whole(segment: LogSegment) -> None:
    append(segment, *[make_batch(values(2, tag=str(i))) for i in range(20)])
    size = segment.size
    assert segment.recover(now_ms=0) == 0
    assert (segment.size, segment.next_offset) == (size, 90)


def test_recover_cuts_a_torn_tail_and_logs_where(
    segment: LogSegment, caplog: pytest.LogCaptureFixture
) -> None:
    batch = make_batch(values(2))
    append(segment, batch, batch)
    with open(segment.log_path, "ab") as f:
        f.write(batch[:30])
    with caplog.at_level(logging.WARNING, logger="headwater.broker.log"):
        assert segment.recover(now_ms=0) == 30
    assert segment.size == 2 * len(batch) == os.path.getsize(segment.log_path)
    assert segment.next_offset == 54
    (record,) = caplog.records
    assert record.getMessage() == "log_tail_truncated"
    fields = record.fields  # type: ignore[attr-defined]
    assert (fields["file"], fields["position"], fields["bytes_cut"]) == (
        str(segment.log_path),
        2 * len(batch),
        30,
    )
    assert "declares length" in fields["reason"]


def test_failed_write_leaves_the_segment_as_it_was(
    segment: LogSegment, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = make_batch(values(2))
    append(segment, batch)
    real_write = os.write

    def torn_write(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", torn_write)
    with pytest.raises(LogStorageError, match="No space left"):
        append(segment, batch)
    monkeypatch.undo()
    assert (segment.size, segment.next_offset) == (len(batch), 52)
    assert os.path.getsize(segment.log_path) == len(batch)
    assert append(segment, batch) == [52]
    assert segment.read(52, 1000) == rebase(batch, 52)


def test_delete_removes_all_three_files(tmp_path: Path) -> None:
    seg = LogSegment(tmp_path, 0, 4096, now_ms=0, create=True)
    append(seg, make_batch(values(1)))
    seg.delete()
    assert list(tmp_path.iterdir()) == []
