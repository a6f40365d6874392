"""RecordBatch (magic v2) header view: parse, validate and re-stamp batches, never their records.

Layout, big endian (Kafka's DefaultRecordBatch)::

    @0  baseOffset int64        @27 baseTimestamp int64
    @8  batchLength int32       @35 maxTimestamp int64
    @12 partitionLeaderEpoch    @43 producerId int64
    @16 magic int8 (= 2)        @51 producerEpoch int16
    @17 crc uint32              @53 baseSequence int32
    @21 attributes int16        @57 recordsCount int32
    @23 lastOffsetDelta int32   @61 records (possibly compressed)

batchLength counts the bytes after the field itself, so a batch occupies batchLength + 12 bytes.
CRC-32C covers attributes (@21) to the end of the batch: baseOffset and partitionLeaderEpoch are
outside it, which is why the broker may rewrite baseOffset for free. Records are never decoded here:
the broker handles batches, not records.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple, NoReturn

import crc32c

from headwater.broker.log.errors import CorruptRecordError

BATCH_HEADER_SIZE = 61
LOG_OVERHEAD = 12  # baseOffset + batchLength: the bytes batchLength does not count
MIN_BATCH_LENGTH = BATCH_HEADER_SIZE - LOG_OVERHEAD
CRC_START = 21
MAGIC_OFFSET = 16
MAGIC_V2 = 2

_HEADER = struct.Struct(">qiibIhiqqqhii")
_BASE_OFFSET = struct.Struct(">q")
_LENGTH = struct.Struct(">i")
_INT32_MAX = 2**31 - 1


class BatchHeader(NamedTuple):
    """The 61-byte header of one RecordBatch, as stored on the wire and on disk."""

    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @classmethod
    def parse(cls, buf: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
        """Unpack the header at `pos`; the caller guarantees 61 bytes are there."""
        return cls._make(_HEADER.unpack_from(buf, pos))

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def size(self) -> int:
        """Bytes the whole batch occupies, header included."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def compression(self) -> int:
        """0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd."""
        return self.attributes & 0x07

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & 0x10)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & 0x20)

    @property
    def last_sequence(self) -> int:
        """Sequence of the last record; sequences wrap from 2**31-1 to 0 like Kafka's."""
        if self.base_sequence < 0:
            return self.base_sequence
        return (self.base_sequence + self.last_offset_delta) % (_INT32_MAX + 1)


def iter_batches(buf: bytes | bytearray | memoryview) -> Iterator[tuple[int, BatchHeader]]:
    """Yield (position, header) for every batch; the lengths must consume `buf` exactly.

    Lengths and magic are checked here, CRCs are not (see `verify_crc`), so that callers scanning
    trusted data pay only for the headers.
    """
    end = len(buf)
    pos = 0
    unpack_from, new = _HEADER.unpack_from, tuple.__new__
    while pos < end:
        remaining = end - pos
        if remaining >= BATCH_HEADER_SIZE:
            fields = unpack_from(buf, pos)
            length = fields[1]
            if fields[3] == MAGIC_V2 and MIN_BATCH_LENGTH <= length <= remaining - LOG_OVERHEAD:
                yield pos, new(BatchHeader, fields)
                pos += length + LOG_OVERHEAD
                continue
        _raise_malformed(buf, pos)


def _raise_malformed(buf: bytes | bytearray | memoryview, pos: int) -> NoReturn:
    """Say precisely why the bytes at `pos` are not a batch (the slow path of iter_batches)."""
    remaining = len(buf) - pos
    if remaining < LOG_OVERHEAD:
        raise CorruptRecordError(
            f"batch at byte {pos} is truncated: {remaining} bytes left, "
            f"a batch header needs {BATCH_HEADER_SIZE}"
        )
    length = _LENGTH.unpack_from(buf, pos + 8)[0]
    if remaining > MAGIC_OFFSET and buf[pos + MAGIC_OFFSET] != MAGIC_V2:
        raise CorruptRecordError(
            f"batch at byte {pos} has magic {buf[pos + MAGIC_OFFSET]}; "
            f"only magic {MAGIC_V2} (RecordBatch v2) is supported"
        )
    if length < MIN_BATCH_LENGTH:
        raise CorruptRecordError(
            f"batch at byte {pos} declares length {length} but the smallest valid "
            f"length is {MIN_BATCH_LENGTH}"
        )
    raise CorruptRecordError(
        f"batch at byte {pos} declares length {length} but only "
        f"{remaining - LOG_OVERHEAD} bytes follow"
    )


def verify_crc(buf: bytes | bytearray | memoryview, pos: int, header: BatchHeader) -> None:
    """Raise CorruptRecordError unless the batch at `pos` hashes to the CRC in its header."""
    view = buf if isinstance(buf, memoryview) else memoryview(buf)
    actual = crc32c.crc32c(view[pos + CRC_START : pos + header.size])
    if actual != header.crc:
        raise CorruptRecordError(
            f"batch at byte {pos} (base offset {header.base_offset}) has CRC "
            f"0x{header.crc:08x} but its contents hash to 0x{actual:08x}"
        )


def set_base_offset(buf: bytearray | memoryview, pos: int, base_offset: int) -> None:
    """Stamp the broker-assigned base offset; it lies outside the CRC, so nothing else changes."""
    _BASE_OFFSET.pack_into(buf, pos, base_offset)


def batch_length_at(buf: bytes | bytearray | memoryview, pos: int) -> int:
    """The batchLength field of the batch at `pos` (12 bytes must be there)."""
    return int(_LENGTH.unpack_from(buf, pos + 8)[0])
