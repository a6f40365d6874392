"""OffsetIndex and TimeIndex: file format, lookups, and refusing inconsistent files."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.broker.log.index import OffsetIndex, TimeIndex


@pytest.fixture
def offset_index(tmp_path: Path) -> Iterator[OffsetIndex]:
    index = OffsetIndex(tmp_path / "00000000000000000100.index", 100)
    index.reset()
    index.append([(5, 400), (9, 800), (20, 1600)])
    yield index
    index.close()


def test_offset_index_file_is_big_endian_pairs(offset_index: OffsetIndex) -> None:
    offset_index.close()
    expected = struct.pack(">IIIIII", 5, 400, 9, 800, 20, 1600)
    assert offset_index.path.read_bytes() == expected


@pytest.mark.parametrize(
    ("offset", "position"),
    [(100, 0), (104, 0), (105, 400), (108, 400), (109, 800), (119, 800), (120, 1600), (999, 1600)],
)
def test_offset_lookup_returns_nearest_earlier_entry(
    offset_index: OffsetIndex, offset: int, position: int
) -> None:
    assert offset_index.lookup(offset) == position


def test_offset_index_reloads_what_it_wrote(offset_index: OffsetIndex) -> None:
    offset_index.close()
    again = OffsetIndex(offset_index.path, 100)
    assert again.load(log_size=2000, next_offset=130)
    assert len(again) == 3
    assert again.last_entry() == (120, 1600)
    assert again.lookup(110) == 800


@pytest.mark.parametrize(
    ("content", "log_size", "next_offset"),
    [
        (struct.pack(">II", 5, 400) + b"\x01", 2000, 130),  # not whole entries
        (struct.pack(">IIII", 9, 400, 5, 800), 2000, 130),  # offsets go backwards
        (struct.pack(">IIII", 5, 800, 9, 400), 2000, 130),  # positions go backwards
        (struct.pack(">II", 5, 4000), 2000, 130),  # position past the log end
        (struct.pack(">II", 50, 400), 2000, 130),  # offset past the log end
    ],
)
def test_offset_index_refuses_inconsistent_files(
    tmp_path: Path, content: bytes, log_size: int, next_offset: int
) -> None:
    path = tmp_path / "00000000000000000100.index"
    path.write_bytes(content)
    index = OffsetIndex(path, 100)
    assert not index.load(log_size, next_offset)
    assert len(index) == 0


def test_missing_index_file_does_not_load(tmp_path: Path) -> None:
    assert not OffsetIndex(tmp_path / "x.index", 0).load(100, 10)
    assert not TimeIndex(tmp_path / "x.timeindex", 0).load(10)


def test_truncate_entries_cuts_file_and_memory(offset_index: OffsetIndex) -> None:
    offset_index.truncate_entries(1)
    assert offset_index.path.stat().st_size == 8
    assert offset_index.lookup(150) == 400


def test_time_index_lookup_starts_at_or_before_the_first_newer_batch(tmp_path: Path) -> None:
    index = TimeIndex(tmp_path / "00000000000000000000.timeindex", 0)
    index.reset()
    index.append([(1000, 3), (2000, 7), (3000, 12)])
    assert index.lookup(500) == 0
    assert index.lookup(1000) == 0  # entry (1000, 3) may itself hold 1000
    assert index.lookup(1001) == 3
    assert index.lookup(2500) == 7
    assert index.lookup(9999) == 12
    assert index.last_timestamp == 3000
    index.close()
    assert index.path.read_bytes() == struct.pack(">qIqIqI", 1000, 3, 2000, 7, 3000, 12)


def test_time_index_refuses_timestamps_that_do_not_increase(tmp_path: Path) -> None:
    path = tmp_path / "00000000000000000000.timeindex"
    path.write_bytes(struct.pack(">qIqI", 2000, 3, 1000, 7))
    assert not TimeIndex(path, 0).load(next_offset=20)
    path.write_bytes(struct.pack(">qIqI", 1000, 3, 2000, 7))
    assert TimeIndex(path, 0).load(next_offset=20)
    assert not TimeIndex(path, 0).load(next_offset=7)  # entry at offset 7 is past the end
