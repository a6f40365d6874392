"""Fetch responses v4-12, encoded by hand as a list of buffers around the record bytes.

The records of a fetch are most of its bytes; encoding them through kio would copy them into a
growing BytesIO and out again. Here every field is packed with `struct`, and each partition's
records (bytes or a memoryview of what the log read) are passed through untouched, so the
server hands the socket a list of buffers (`transport.writelines`).

Layout (v4; later versions add fields as marked):
    header: correlation_id int32 [v12: + empty tagged fields]
    throttle_time_ms int32 [v7+: error_code int16, session_id int32]
    responses: array of
        topic: string
        partitions: array of
            partition_index int32, error_code int16, high_watermark int64,
            last_stable_offset int64, [v5+: log_start_offset int64],
            aborted_transactions: nullable array (always empty here),
            [v11+: preferred_read_replica int32],
            records: nullable bytes
            [v12: tagged fields]
        [v12: tagged fields]
    [v12: tagged fields]
v12 is flexible: arrays and strings carry unsigned-varint length + 1, and each struct ends with
an (empty) tagged-field count.
"""

from __future__ import annotations

import struct
from typing import Any

_I32 = struct.Struct(">i")
_PARTITION_HEAD = struct.Struct(">ihqq")
_I64 = struct.Struct(">q")
_TOP_V7 = struct.Struct(">ihi")


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_fetch_response(
    version: int, correlation_id: int, response: dict[str, Any]
) -> list[bytes | memoryview]:
    """Framed response as buffers to write in order (the first starts with the size)."""
    flexible = version >= 12
    head = bytearray(_I32.pack(correlation_id))
    if flexible:
        head += b"\0"
    if version >= 7:
        head += _TOP_V7.pack(
            response["throttle_time_ms"], response["error_code"], response["session_id"]
        )
    else:
        head += _I32.pack(response["throttle_time_ms"])
    parts: list[bytes | memoryview] = []
    current = head
    topics = response["responses"]
    current += _uvarint(len(topics) + 1) if flexible else _I32.pack(len(topics))
    for topic in topics:
        name = topic["topic"].encode()
        current += (_uvarint(len(name) + 1) if flexible else struct.pack(">h", len(name))) + name
        partitions = topic["partitions"]
        current += _uvarint(len(partitions) + 1) if flexible else _I32.pack(len(partitions))
        for p in partitions:
            current += _PARTITION_HEAD.pack(
                p["partition_index"], p["error_code"], p["high_watermark"], p["last_stable_offset"]
            )
            if version >= 5:
                current += _I64.pack(p["log_start_offset"])
            current += b"\x01" if flexible else b"\0\0\0\0"  # aborted transactions: empty
            if version >= 11:
                current += _I32.pack(p["preferred_read_replica"])
            records = p["records"]
            current += _uvarint(len(records) + 1) if flexible else _I32.pack(len(records))
            if len(records) > 4096:
                parts.append(bytes(current))
                parts.append(records)
                current = bytearray()
            else:
                current += records
            if flexible:
                current += b"\0"
        if flexible:
            current += b"\0"
    if flexible:
        current += b"\0"
    if current:
        parts.append(bytes(current))
    size = sum(len(b) for b in parts)
    parts[0] = _I32.pack(size) + parts[0]
    return parts
