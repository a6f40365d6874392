"""A minimal blocking Kafka wire client: the cheapest producer and consumer per record.

It speaks versions every current Kafka-compatible broker has: ApiVersions v0, CreateTopics v2,
Produce v7 and Fetch v11 (non-flexible, request header v1) and InitProducerId v4 (flexible;
Tansu refuses v1's null producer id).
It shares no code with the broker under test.

Producing replays one pre-built RecordBatch v2 (magic 2, no compression) per request. Before each
send only producerId, producerEpoch, baseSequence and the two timestamps are patched and the
CRC-32C (which covers everything from `attributes` to the end) is recomputed: the broker sees
well-formed idempotent batches with consecutive sequences, and the client spends almost nothing per
record. Consuming walks the batch headers of each Fetch response, verifies every complete batch's
CRC-32C and counts its records.

RecordBatch v2 layout (offsets in bytes):
  0 baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 | 16 magic i8 | 17 crc u32 |
  21 attributes i16 | 23 lastOffsetDelta i32 | 27 baseTimestamp i64 | 35 maxTimestamp i64 |
  43 producerId i64 | 51 producerEpoch i16 | 53 baseSequence i32 | 57 recordCount i32 | 61 records
"""

from __future__ import annotations

import socket
import struct
import time

import crc32c

BATCH_HEADER = 61
#: COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR: ask again.
RETRIABLE = frozenset({14, 15, 16})
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_HEADER = struct.Struct(">hhi")  # api key, api version, correlation id


class WireError(Exception):
    """The broker answered with an error code, or the bytes made no sense."""


def _varint(value: int) -> bytes:
    value = (value << 1) ^ (value >> 63)  # zigzag
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_string(value: str | None) -> bytes:
    if value is None:
        return _I16.pack(-1)
    raw = value.encode()
    return _I16.pack(len(raw)) + raw


def build_batch(count: int, value: bytes) -> bytearray:
    """A RecordBatch template of `count` keyless records without headers, all with `value`."""
    records = bytearray()
    for delta in range(count):
        body = b"\x00" + _varint(0) + _varint(delta) + _varint(-1) + _varint(len(value)) + value
        body += _varint(0)
        records += _varint(len(body)) + body
    batch = bytearray(BATCH_HEADER) + records
    struct.pack_into(">qii", batch, 0, 0, len(batch) - 12, -1)
    batch[16] = 2
    struct.pack_into(">hi", batch, 21, 0, count - 1)
    struct.pack_into(">i", batch, 57, count)
    return batch


def stamp_batch(batch: bytearray, producer_id: int, epoch: int, sequence: int) -> None:
    """Give the template its producer identity, sequence and timestamps; recompute the CRC."""
    now = int(time.time() * 1000)
    struct.pack_into(">qqqhi", batch, 27, now, now, producer_id, epoch, sequence)
    struct.pack_into(">I", batch, 17, crc32c.crc32c(memoryview(batch)[21:]))


class Connection:
    """One blocking connection with pipelined requests (responses come back in order)."""

    def __init__(self, host: str, port: int, client_id: str = "bench", timeout: float = 30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = encode_string(client_id)
        self._next_id = 0
        self._rbuf = bytearray()

    def close(self) -> None:
        self.sock.close()

    def send(self, api_key: int, version: int, *body: bytes | bytearray | memoryview) -> int:
        self._next_id += 1
        head = _HEADER.pack(api_key, version, self._next_id) + self._client
        size = len(head) + sum(len(b) for b in body)
        self.sock.sendall(_I32.pack(size) + head)
        for part in body:
            self.sock.sendall(part)
        return self._next_id

    def receive(self) -> memoryview:
        """The next response body (after the correlation id)."""
        size = _I32.unpack(self._read(4))[0]
        return memoryview(self._read(size))[4:]

    def _read(self, n: int) -> bytearray:
        """Exactly n bytes: what is buffered first, then straight into one buffer (one copy)."""
        buf = self._rbuf
        if len(buf) >= n:
            out = buf[:n]
            del buf[:n]
            return out
        out = bytearray(n)
        view = memoryview(out)
        have = len(buf)
        view[:have] = buf
        buf.clear()
        while have < n:
            got = self.sock.recv_into(view[have:])
            if not got:
                raise WireError("connection closed by the broker")
            have += got
        return out

    def call(self, api_key: int, version: int, *body: bytes) -> memoryview:
        self.send(api_key, version, *body)
        return self.receive()

    # -- the few requests the benchmark needs -----------------------------------------------
    def api_versions(self) -> dict[int, tuple[int, int]]:
        resp = self.call(18, 0)
        error, count = struct.unpack_from(">hi", resp, 0)
        if error:
            raise WireError(f"ApiVersions error {error}")
        out = {}
        for i in range(count):
            key, low, high = struct.unpack_from(">hhh", resp, 6 + 6 * i)
            out[key] = (low, high)
        return out

    def create_topic(self, topic: str, partitions: int, timeout_ms: int = 10_000) -> None:
        body = (
            _I32.pack(1)
            + encode_string(topic)
            + struct.pack(">ihii", partitions, 1, 0, 0)
            + struct.pack(">ib", timeout_ms, 0)
        )
        resp = self.call(19, 2, body)
        name_len = _I16.unpack_from(resp, 8)[0]
        error = _I16.unpack_from(resp, 10 + name_len)[0]
        if error not in (0, 36):  # 36: TOPIC_ALREADY_EXISTS
            raise WireError(f"CreateTopics {topic!r} error {error}")

    def init_producer_id(self, deadline_s: float = 30.0) -> tuple[int, int]:
        """InitProducerId v4 (flexible: request header v2, response header v1).

        Asked again while the broker answers a retriable error: Kafka answers
        COORDINATOR_LOAD_IN_PROGRESS until its controller has handed it a block of ids."""
        end = time.monotonic() + deadline_s
        while True:
            self._next_id += 1
            head = _HEADER.pack(22, 4, self._next_id) + self._client + b"\x00"
            body = b"\x00" + struct.pack(">iqh", 60_000, -1, -1) + b"\x00"
            self.sock.sendall(_I32.pack(len(head) + len(body)) + head + body)
            resp = self.receive()
            _, error, producer_id, epoch = struct.unpack_from(">ihqh", resp, 1)  # after tags
            if not error:
                return producer_id, epoch
            if error not in RETRIABLE or time.monotonic() > end:
                raise WireError(f"InitProducerId error {error}")
            time.sleep(0.05)

    def send_produce(self, topic: bytes, partition: int, batch: bytearray, acks: int = -1) -> int:
        """Produce v7 with one batch for one partition; `topic` is the encoded string."""
        head = (
            encode_string(None)
            + struct.pack(">hii", acks, 30_000, 1)
            + topic
            + struct.pack(">iii", 1, partition, len(batch))
        )
        return self.send(0, 7, head, batch)

    def receive_produce(self) -> int:
        """The base offset of the one batch of a Produce v7 response; raises on an error."""
        resp = self.receive()
        name_len = _I16.unpack_from(resp, 4)[0]
        _, error, base_offset = struct.unpack_from(">ihq", resp, 6 + name_len + 4)
        if error:
            raise WireError(f"Produce error {error}")
        return base_offset

    def send_fetch(
        self,
        topic: bytes,
        offsets: dict[int, int],
        max_bytes: int,
        partition_max_bytes: int,
        max_wait_ms: int = 500,
    ) -> int:
        body = bytearray(struct.pack(">iiiibii", -1, max_wait_ms, 1, max_bytes, 0, 0, -1))
        body += _I32.pack(1) + topic + _I32.pack(len(offsets))
        for partition, offset in offsets.items():
            body += struct.pack(">iiqqi", partition, -1, offset, -1, partition_max_bytes)
        body += _I32.pack(0) + encode_string("")
        return self.send(1, 11, body)

    def receive_fetch(self, offsets: dict[int, int], verify: bool = True) -> tuple[int, int]:
        """Advance `offsets` past the complete batches received; return (records, bytes)."""
        resp = self.receive()
        _, error, _, topics = struct.unpack_from(">ihii", resp, 0)
        if error:
            raise WireError(f"Fetch error {error}")
        pos, records, nbytes = 14, 0, 0
        for _ in range(topics):
            pos += 2 + _I16.unpack_from(resp, pos)[0]
            (parts,) = _I32.unpack_from(resp, pos)
            pos += 4
            for _ in range(parts):
                partition, perror = struct.unpack_from(">ih", resp, pos)
                if perror:
                    raise WireError(f"Fetch partition {partition} error {perror}")
                pos += 4 + 2 + 24
                (aborted,) = _I32.unpack_from(resp, pos)
                pos += 4 + max(aborted, 0) * 16 + 4
                (size,) = _I32.unpack_from(resp, pos)
                pos += 4
                if size <= 0:
                    continue
                n, b, next_offset = _walk(resp[pos : pos + size], verify)
                pos += size
                records += n
                nbytes += b
                if next_offset is not None:
                    offsets[partition] = next_offset
        return records, nbytes


def _walk(data: memoryview, verify: bool) -> tuple[int, int, int | None]:
    """Count the records of the complete batches in `data` (a partial tail batch is normal)."""
    pos, records, next_offset = 0, 0, None
    while pos + BATCH_HEADER <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        end = pos + 12 + length
        if end > len(data):
            break
        if data[pos + 16] != 2:
            raise WireError(f"unexpected magic {data[pos + 16]} at offset {base}")
        if verify:
            (crc,) = struct.unpack_from(">I", data, pos + 17)
            if crc32c.crc32c(data[pos + 21 : end]) != crc:
                raise WireError(f"CRC mismatch in the batch at offset {base}")
        last_delta = _I32.unpack_from(data, pos + 23)[0]
        records += _I32.unpack_from(data, pos + 57)[0]
        next_offset = base + last_delta + 1
        pos = end
    return records, pos, next_offset
