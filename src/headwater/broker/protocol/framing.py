"""Kafka request framing, sans-IO.

Every Kafka request and response is `int32 size` followed by `size` bytes. `FrameDecoder` is fed
whatever the socket delivered (`feed(bytes)`) and hands back complete frames (`frames()`); it
does no I/O, so the server, the tests and the fuzzers drive it the same way.

A negative or oversize declared length is a protocol error on that connection alone: the decoder
raises `FrameError` and the caller closes that one connection.
"""

from __future__ import annotations

import struct

from headwater.broker.protocol.errors import FrameError

_SIZE = struct.Struct(">i")

#: Kafka's `socket.request.max.bytes` default.
DEFAULT_MAX_FRAME_BYTES = 100 * 1024 * 1024


class FrameDecoder:
    """Splits a byte stream into size-prefixed frames."""

    __slots__ = ("_buffer", "_max_frame_bytes")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self._buffer = bytearray()
        self._max_frame_bytes = max_frame_bytes

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def frames(self) -> list[bytes]:
        """Every complete frame buffered so far, in order (the size prefix stripped)."""
        out: list[bytes] = []
        buf = self._buffer
        pos = 0
        end = len(buf)
        while end - pos >= 4:
            (size,) = _SIZE.unpack_from(buf, pos)
            if size < 0:
                raise FrameError(f"frame declares a negative length ({size})")
            if size > self._max_frame_bytes:
                raise FrameError(
                    f"frame of {size} bytes exceeds the limit of {self._max_frame_bytes} bytes"
                )
            if end - pos - 4 < size:
                break
            out.append(bytes(buf[pos + 4 : pos + 4 + size]))
            pos += 4 + size
        if pos:
            del buf[:pos]
        return out


def frame(payload: bytes) -> bytes:
    """Prefix a payload with its int32 size."""
    return _SIZE.pack(len(payload)) + payload
