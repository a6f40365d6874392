"""Build real v2 RecordBatches for tests (uncompressed; varint records as Kafka encodes them)."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import crc32c

HEADER = struct.Struct(">qiibIhiqqqhii")


def varint(value: int) -> bytes:
    """Zigzag varint, as Kafka's ByteUtils.writeVarint/Varlong."""
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while value & ~0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _nullable(data: bytes | None) -> bytes:
    return varint(-1) if data is None else varint(len(data)) + data


def encode_record(
    offset_delta: int,
    timestamp_delta: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] = (),
) -> bytes:
    body = bytearray(b"\x00")  # attributes
    body += varint(timestamp_delta) + varint(offset_delta) + _nullable(key) + _nullable(value)
    body += varint(len(headers))
    for name, header_value in headers:
        raw = name.encode()
        body += varint(len(raw)) + raw + _nullable(header_value)
    return varint(len(body)) + bytes(body)


def make_batch(
    values: Sequence[bytes | None],
    *,
    keys: Sequence[bytes | None] | None = None,
    timestamp: int = 1_700_000_000_000,
    timestamps: Sequence[int] | None = None,
    base_offset: int = 0,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    attributes: int = 0,
    partition_leader_epoch: int = -1,
) -> bytes:
    """One batch holding `values` (one record each), CRC included."""
    stamps = list(timestamps) if timestamps is not None else [timestamp] * len(values)
    keys = list(keys) if keys is not None else [None] * len(values)
    first = stamps[0] if stamps else timestamp
    records = b"".join(
        encode_record(i, ts - first, key, value)
        for i, (ts, key, value) in enumerate(zip(stamps, keys, values, strict=True))
    )
    header = bytearray(
        HEADER.pack(
            base_offset,
            HEADER.size - 12 + len(records),
            partition_leader_epoch,
            2,
            0,
            attributes,
            len(values) - 1,
            first,
            max(stamps) if stamps else timestamp,
            producer_id,
            producer_epoch,
            base_sequence,
            len(values),
        )
    )
    batch = header + records
    struct.pack_into(">I", batch, 17, crc32c.crc32c(bytes(batch[21:])))
    return bytes(batch)


def values(n: int, size: int = 10, tag: str = "v") -> list[bytes]:
    """n distinct values of exactly `size` bytes."""
    return [f"{tag}{i}".encode().ljust(size, b".")[:size] for i in range(n)]


def rebase(batch: bytes, base_offset: int) -> bytes:
    """The batch as the log stores it: only baseOffset differs."""
    return struct.pack(">q", base_offset) + batch[8:]


def corrupt(batch: bytes, at: int) -> bytes:
    """Flip one byte (inside the CRC-covered part when at >= 21)."""
    return batch[:at] + bytes([batch[at] ^ 0xFF]) + batch[at + 1 :]


def recrc(batch: bytes | bytearray) -> bytes:
    """The batch with its CRC recomputed (after a test edited covered fields)."""
    fixed = bytearray(batch)
    struct.pack_into(">I", fixed, 17, crc32c.crc32c(bytes(fixed[21:])))
    return bytes(fixed)
