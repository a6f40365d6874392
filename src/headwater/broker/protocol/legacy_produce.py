"""Produce v0-2, hand-coded: kio has no schema below v3, and the broker only refuses these.

Request v0-2: acks int16, timeout int32, [topic string, [partition int32, records bytes]].
Response v0: [topic string, [partition int32, error_code int16, base_offset int64]];
v1 appends throttle_time_ms int32; v2 adds log_append_time int64 per partition.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from headwater.broker.protocol.errors import RequestDecodeError

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


@dataclass(slots=True)
class LegacyProduceRequest:
    acks: int
    topics: list[tuple[str, list[int]]]


def _read_string(buf: bytes | memoryview, pos: int) -> tuple[str, int]:
    (length,) = _I16.unpack_from(buf, pos)
    pos += 2
    if length < 0 or pos + length > len(buf):
        raise RequestDecodeError("bad topic name length in legacy produce request")
    return bytes(buf[pos : pos + length]).decode("utf-8", "replace"), pos + length


def decode_legacy_produce(buf: bytes | memoryview, pos: int) -> LegacyProduceRequest:
    try:
        (acks,) = _I16.unpack_from(buf, pos)
        pos += 6  # acks, timeout
        (topic_count,) = _I32.unpack_from(buf, pos)
        pos += 4
        topics = []
        for _ in range(max(topic_count, 0)):
            name, pos = _read_string(buf, pos)
            (part_count,) = _I32.unpack_from(buf, pos)
            pos += 4
            partitions = []
            for _ in range(max(part_count, 0)):
                (index,) = _I32.unpack_from(buf, pos)
                (size,) = _I32.unpack_from(buf, pos + 4)
                pos += 8 + max(size, 0)
                partitions.append(index)
            topics.append((name, partitions))
    except struct.error as exc:
        raise RequestDecodeError(f"truncated legacy produce request: {exc}") from None
    return LegacyProduceRequest(acks, topics)


def encode_legacy_produce_error(version: int, request: LegacyProduceRequest, error: int) -> bytes:
    out = bytearray(_I32.pack(len(request.topics)))
    for name, partitions in request.topics:
        raw = name.encode()
        out += _I16.pack(len(raw)) + raw + _I32.pack(len(partitions))
        for index in partitions:
            out += struct.pack(">ihq", index, error, -1)
            if version >= 2:
                out += struct.pack(">q", -1)
    if version >= 1:
        out += _I32.pack(0)
    return bytes(out)
