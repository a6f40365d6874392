"""RecordBatch header parsing, validation and base-offset stamping."""

from __future__ import annotations

import struct
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.broker.log import BATCH_HEADER_SIZE, BatchHeader, CorruptRecordError, iter_batches
from headwater.broker.log.batch import set_base_offset, verify_crc

from .batches import corrupt, make_batch, values


def test_helper_batches_match_kafka_python_byte_for_byte() -> None:
    with warnings.catch_warnings():  # kafka-python's import warns from importlib, not kafka.*
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka.record.default_records import DefaultRecordBatchBuilder
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=False,
        producer_id=42,
        producer_epoch=3,
        base_sequence=17,
        batch_size=1 << 20,
    )
    stamps = [1_700_000_000_000, 1_700_000_000_005, 1_700_000_000_002]
    keys = [b"k0", None, b"k2"]
    vals = [b"hello", b"", None]
    for i, (ts, key, value) in enumerate(zip(stamps, keys, vals, strict=True)):
        builder.append(i, timestamp=ts, key=key, value=value, headers=[])
    ours = make_batch(
        vals,
        keys=keys,
        timestamps=stamps,
        producer_id=42,
        producer_epoch=3,
        base_sequence=17,
        partition_leader_epoch=0,
    )
    assert ours == bytes(builder.build())


def test_header_fields_and_properties() -> None:
    batch = make_batch(
        values(4),
        producer_id=9,
        producer_epoch=1,
        base_sequence=2**31 - 2,
        attributes=0x10 | 0x03,
        timestamps=[10, 40, 20, 30],
        base_offset=100,
    )
    header = BatchHeader.parse(batch)
    assert header.base_offset == 100
    assert header.size == len(batch)
    assert header.magic == 2
    assert header.records_count == 4
    assert header.last_offset == 103
    assert (header.base_timestamp, header.max_timestamp) == (10, 40)
    assert header.is_transactional and not header.is_control
    assert header.compression == 3
    assert header.last_sequence == 1  # 2**31-2, 2**31-1, 0, 1


def test_header_struct_is_61_bytes() -> None:
    assert struct.calcsize(">qiibIhiqqqhii") == BATCH_HEADER_SIZE == 61


def test_iter_batches_yields_each_position() -> None:
    first, second = make_batch(values(3)), make_batch(values(1), base_offset=3)
    found = [(pos, h.base_offset) for pos, h in iter_batches(first + second)]
    assert found == [(0, 0), (len(first), 3)]


def test_iter_batches_of_nothing_yields_nothing() -> None:
    assert list(iter_batches(b"")) == []


def test_truncated_batch_names_its_position_and_lengths() -> None:
    batch = make_batch(values(3))
    data = batch + batch[:-5]
    with pytest.raises(CorruptRecordError) as info:
        list(iter_batches(data))
    declared = len(batch) - 12
    assert str(info.value) == (
        f"batch at byte {len(batch)} declares length {declared} "
        f"but only {declared - 5} bytes follow"
    )


def test_trailing_bytes_shorter_than_a_header_are_corrupt() -> None:
    with pytest.raises(CorruptRecordError, match="batch at byte 0 is truncated: 7 bytes left"):
        list(iter_batches(b"\x00" * 7))


def test_length_below_the_header_size_is_corrupt() -> None:
    batch = bytearray(make_batch(values(1)))
    struct.pack_into(">i", batch, 8, 20)
    with pytest.raises(CorruptRecordError, match="declares length 20 but the smallest valid"):
        list(iter_batches(batch))


def test_magic_other_than_2_is_corrupt() -> None:
    batch = bytearray(make_batch(values(1)))
    batch[16] = 1
    with pytest.raises(CorruptRecordError, match="has magic 1; only magic 2"):
        list(iter_batches(batch))


def test_crc_detects_any_flipped_byte_after_the_crc_field() -> None:
    batch = make_batch(values(2))
    verify_crc(batch, 0, BatchHeader.parse(batch))
    for at in range(21, len(batch)):
        bad = corrupt(batch, at)
        with pytest.raises(CorruptRecordError, match="has CRC"):
            verify_crc(bad, 0, BatchHeader.parse(bad))


def test_base_offset_is_outside_the_crc() -> None:
    buf = bytearray(make_batch(values(2)) * 2)
    size = len(buf) // 2
    set_base_offset(buf, size, 12345)
    set_base_offset(memoryview(buf), 0, 7)
    headers = list(iter_batches(buf))
    assert [h.base_offset for _, h in headers] == [7, 12345]
    for pos, header in headers:
        verify_crc(buf, pos, header)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_iter_batches_parses_or_raises_corrupt_record_never_anything_else(data: bytes) -> None:
    try:
        for pos, header in iter_batches(data):
            assert pos + header.size <= len(data)
    except CorruptRecordError:
        pass


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.integers(min_value=0, max_value=200), st.binary(min_size=1, max_size=8))
def test_every_prefix_and_splice_of_valid_batches_parses_or_is_corrupt(
    cut: int, junk: bytes
) -> None:
    data = make_batch(values(2)) + make_batch(values(3), base_offset=2)
    spliced = data[: cut % len(data)] + junk
    try:
        total = sum(header.size for _, header in iter_batches(spliced))
        assert total == len(spliced)
    except CorruptRecordError:
        pass
