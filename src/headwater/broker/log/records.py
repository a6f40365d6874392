"""The records inside a RecordBatch, for the log cleaner: decode keys, rebuild a filtered batch.

The broker handles whole batches everywhere else; only compaction must look inside them. Record
layout (magic v2, after decompression), varints zigzag-encoded as Kafka's ByteUtils::

    length varint | attributes int8 | timestampDelta varlong | offsetDelta varint
    keyLength varint | key | valueLength varint | value | headerCount varint | headers

A null key or value has length -1; a null value is a tombstone. Codecs (attributes & 7): gzip,
snappy (raw, or xerial-framed as the Java client writes it), lz4 (frame) and zstd, through zlib
and pyarrow. A rewritten batch keeps the original baseOffset, lastOffsetDelta, baseTimestamp,
producer fields and codec, as Kafka's MemoryRecords.filterTo does: retained records are copied
byte for byte (their deltas stay valid), recordsCount and maxTimestamp are recomputed and the
CRC-32C is computed again over attributes..end. Anything undecodable raises CorruptRecordError;
the cleaner then leaves that batch as it is.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from typing import NamedTuple

import crc32c
import pyarrow as pa  # type: ignore[import-untyped]  # no stubs; used for codecs only

from headwater.broker.log.batch import BATCH_HEADER_SIZE, CRC_START, LOG_OVERHEAD, BatchHeader
from headwater.broker.log.errors import CorruptRecordError

_CODECS = {1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = 16  # magic (8) + version (4) + compatible version (4)
_LOG_APPEND_TIME = 0x08
_HEADER = struct.Struct(">qiibIhiqqqhii")
_INT32 = struct.Struct(">i")


class Record(NamedTuple):
    """Where one record lies in the decompressed payload, and what compaction needs of it."""

    start: int
    end: int
    offset_delta: int
    timestamp: int
    key: bytes | None
    tombstone: bool


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the zigzag varint at `pos`."""
    value, pos = _raw_varint(buf, pos)
    return (value >> 1) ^ -(value & 1), pos


def payload(batch: bytes | memoryview, header: BatchHeader) -> bytes:
    """The batch's records section, decompressed."""
    raw = bytes(batch[BATCH_HEADER_SIZE : header.size])
    codec = header.compression
    if codec == 0:
        return raw
    try:
        if codec == 1:
            return zlib.decompress(raw, 16 + zlib.MAX_WBITS)
        if codec == 2:
            return _snappy_decompress(raw)
        name = _CODECS.get(codec)
        if name is None:
            raise CorruptRecordError(f"batch at offset {header.base_offset}: codec {codec}")
        return bytes(pa.CompressedInputStream(pa.BufferReader(raw), name).read())
    except (zlib.error, pa.ArrowException, IndexError) as exc:
        raise CorruptRecordError(
            f"batch at offset {header.base_offset} does not decompress: {exc}"
        ) from exc


def _snappy_decompress(raw: bytes) -> bytes:
    codec = pa.Codec("snappy")
    if not raw.startswith(_XERIAL_MAGIC):
        size, _ = _raw_varint(raw, 0)
        return bytes(codec.decompress(raw, decompressed_size=size, asbytes=True))
    out = []
    pos = _XERIAL_HEADER
    while pos < len(raw):
        length = _INT32.unpack_from(raw, pos)[0]
        block = raw[pos + 4 : pos + 4 + length]
        size, _ = _raw_varint(block, 0)
        out.append(bytes(codec.decompress(block, decompressed_size=size, asbytes=True)))
        pos += 4 + length
    return b"".join(out)


def _raw_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Unsigned varint (snappy's length preamble, and the zigzag varints' raw form)."""
    shift = result = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise CorruptRecordError(f"varint at byte {pos} is longer than 10 bytes")


def compress(data: bytes, codec: int) -> bytes:
    """`data` in the batch codec `codec` (0 none)."""
    if codec == 0:
        return data
    if codec == 1:
        packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return packer.compress(data) + packer.flush()
    return bytes(pa.compress(data, _CODECS[codec], asbytes=True))


def decode_records(data: bytes, header: BatchHeader) -> list[Record]:
    """Every record of a decompressed payload; CorruptRecordError if it does not add up."""
    records: list[Record] = []
    varint = _varint
    base_ts = header.base_timestamp
    pos, end = 0, len(data)
    try:
        for _ in range(header.records_count):
            length, body = varint(data, pos)
            stop = body + length
            ts_delta, p = varint(data, body + 1)
            offset_delta, p = varint(data, p)
            key_len, p = varint(data, p)
            key = None if key_len < 0 else data[p : p + key_len]
            p += max(key_len, 0)
            value_len, _ = varint(data, p)
            records.append(Record(pos, stop, offset_delta, base_ts + ts_delta, key, value_len < 0))
            pos = stop
    except IndexError:
        raise CorruptRecordError(
            f"batch at offset {header.base_offset}: records run past the batch end"
        ) from None
    if pos != end:
        raise CorruptRecordError(
            f"batch at offset {header.base_offset}: {header.records_count} records end at byte "
            f"{pos} of {end}"
        )
    return records


def rebuild_batch(header: BatchHeader, data: bytes, kept: Sequence[Record]) -> bytes:
    """A valid batch holding only `kept` (in order), as Kafka's filterTo builds it.

    An empty `kept` gives an empty batch, which Kafka retains for the last batch of a producer so
    that its sequence numbers survive cleaning.
    """
    body = b"".join(data[r.start : r.end] for r in kept)
    records = compress(body, header.compression) if kept else b""
    max_ts = header.max_timestamp
    if kept and not header.attributes & _LOG_APPEND_TIME:
        max_ts = max(r.timestamp for r in kept)
    attributes = header.attributes if kept else header.attributes & ~0x07  # empty: no codec
    batch = bytearray(
        _HEADER.pack(
            header.base_offset,
            BATCH_HEADER_SIZE - LOG_OVERHEAD + len(records),
            header.partition_leader_epoch,
            header.magic,
            0,
            attributes,
            header.last_offset_delta,
            header.base_timestamp,
            max_ts,
            header.producer_id,
            header.producer_epoch,
            header.base_sequence,
            len(kept),
        )
    )
    batch += records
    struct.pack_into(">I", batch, 17, crc32c.crc32c(memoryview(batch)[CRC_START:]))
    return bytes(batch)
