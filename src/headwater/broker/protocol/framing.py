"""Kafka request framing, sans-IO.

Every Kafka request and response is `int32 size` followed by `size` bytes. `FrameDecoder` does no
I/O: the server (an `asyncio.BufferedProtocol`) asks it for a buffer to receive into
(`get_buffer()`), tells it how many bytes arrived (`buffer_updated(n)`) and gets back the frames
completed so far. Small frames share one reusable receive buffer; a frame larger than that buffer
gets a buffer of its own exactly its size, so a 1 MB Produce request is received straight into the
bytes the handlers read, with no reassembly copies. Tests and fuzzers use `feed(bytes)`.

A negative or oversize declared length is a protocol error on that connection alone: the decoder
raises `FrameError` and the caller closes that one connection.
"""

from __future__ import annotations

import struct

from headwater.broker.protocol.errors import FrameError

_SIZE = struct.Struct(">i")

#: Kafka's `socket.request.max.bytes` default.
DEFAULT_MAX_FRAME_BYTES = 100 * 1024 * 1024
RECEIVE_BUFFER_BYTES = 256 * 1024


class FrameDecoder:
    """Splits a byte stream into size-prefixed frames (`bytes`, or `bytearray` for large ones)."""

    __slots__ = ("_big", "_big_filled", "_buf", "_end", "_max_frame_bytes", "_start", "_view")

    def __init__(
        self,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        buffer_bytes: int = RECEIVE_BUFFER_BYTES,
    ) -> None:
        self._max_frame_bytes = max_frame_bytes
        self._buf = bytearray(buffer_bytes)
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0
        self._big: bytearray | None = None
        self._big_filled = 0

    @property
    def buffered(self) -> int:
        """Bytes received that are not yet part of a returned frame."""
        return self._big_filled if self._big is not None else self._end - self._start

    def get_buffer(self) -> memoryview:
        """Where the next received bytes go (never empty)."""
        if self._big is not None:
            return memoryview(self._big)[self._big_filled :]
        if self._end == len(self._buf):
            pending = self._end - self._start
            self._buf[:pending] = self._view[self._start : self._end]
            self._start, self._end = 0, pending
        return self._view[self._end :]

    def buffer_updated(self, nbytes: int) -> list[bytes | bytearray]:
        """`nbytes` were written into the last buffer; return every frame now complete."""
        if self._big is not None:
            self._big_filled += nbytes
            if self._big_filled < len(self._big):
                return []
            frame = self._big
            self._big = None
            self._big_filled = 0
            return [frame, *self._extract()]
        self._end += nbytes
        return self._extract()

    def feed(self, data: bytes) -> list[bytes | bytearray]:
        """Push bytes through the receive-buffer path; return the frames completed."""
        out: list[bytes | bytearray] = []
        view = memoryview(data)
        while view:
            target = self.get_buffer()
            n = min(len(target), len(view))
            target[:n] = view[:n]
            out.extend(self.buffer_updated(n))
            view = view[n:]
        return out

    def _extract(self) -> list[bytes | bytearray]:
        out: list[bytes | bytearray] = []
        buf = self._buf
        while self._end - self._start >= 4:
            (size,) = _SIZE.unpack_from(buf, self._start)
            if size < 0:
                raise FrameError(f"frame declares a negative length ({size})")
            if size > self._max_frame_bytes:
                raise FrameError(
                    f"frame of {size} bytes exceeds the limit of {self._max_frame_bytes} bytes"
                )
            body = self._start + 4
            available = self._end - body
            if available >= size:
                out.append(bytes(self._view[body : body + size]))
                self._start = body + size
                continue
            if size + 4 > len(buf):
                big = bytearray(size)
                big[:available] = self._view[body : self._end]
                self._big, self._big_filled = big, available
                self._start = self._end = 0
            break
        if self._start == self._end:
            self._start = self._end = 0
        return out


def frame(payload: bytes) -> bytes:
    """Prefix a payload with its int32 size."""
    return _SIZE.pack(len(payload)) + payload
