"""Kafka request/response codec, sans-IO: frame bytes in, typed objects out, and back.

Request header (v1, or v2 when the request version is flexible): api_key int16, api_version int16,
correlation_id int32, client_id nullable int16-length string, then (v2) tagged fields. The header is
parsed here by hand so that the API, version and correlation id are known even when the body is
garbage; bodies are decoded by `kio` (types generated from Kafka's own JSON schemas, native reader).

Responses carry header v0 (correlation id) or, for flexible versions, v1 (plus empty tagged fields);
ApiVersions responses always use header v0 so an old client can read the error.

Every decode failure surfaces as `RequestDecodeError` (never a bare library exception), so one bad
request costs one error response or one closed connection, never the process.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from kio.index import load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer

from headwater.broker.protocol.errors import RequestDecodeError, UnsupportedVersionError
from headwater.broker.protocol.legacy_produce import decode_legacy_produce
from headwater.broker.protocol.versions import (
    LEGACY_PRODUCE_VERSIONS,
    SUPPORTED_VERSIONS,
    ApiKey,
)

_HEADER = struct.Struct(">hhi")
_INT16 = struct.Struct(">h")
_SIZE_AND_CORRELATION = struct.Struct(">ii")

#: A request frame as the server has it: bytes, or a read-only view of a received bytearray.
Frame = bytes | memoryview


@dataclass(slots=True)
class Request:
    """One decoded request."""

    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body: Any
    size: int
    client_host: str = ""


@cache
def is_flexible(api_key: int, api_version: int) -> bool:
    if api_key == ApiKey.PRODUCE and api_version in LEGACY_PRODUCE_VERSIONS:
        return False
    return bool(load_request_schema(api_key, api_version).__flexible__)


@cache
def _body_reader(api_key: int, api_version: int) -> Callable[..., tuple[Any, int]]:
    return entity_reader(load_request_schema(api_key, api_version))


@cache
def response_type(api_key: int, api_version: int) -> type:
    return load_response_schema(api_key, api_version)


_WRITERS: dict[type, Callable[[io.BytesIO, Any], None]] = {}


def _body_writer(body_type: type) -> Callable[[io.BytesIO, Any], None]:
    writer = _WRITERS.get(body_type)
    if writer is None:
        writer = _WRITERS[body_type] = entity_writer(body_type)
    return writer


def _read_uvarint(buf: Frame, pos: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise RequestDecodeError("truncated varint in request header")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 28:
            raise RequestDecodeError("varint in request header is too long")


def _skip_tagged_fields(buf: Frame, pos: int) -> int:
    count, pos = _read_uvarint(buf, pos)
    for _ in range(count):
        _tag, pos = _read_uvarint(buf, pos)
        size, pos = _read_uvarint(buf, pos)
        pos += size
        if pos > len(buf):
            raise RequestDecodeError("tagged field in request header runs past the frame")
    return pos


def peek_header(frame: Frame) -> tuple[int, int, int]:
    """(api_key, api_version, correlation_id) of a frame, or RequestDecodeError."""
    if len(frame) < _HEADER.size:
        raise RequestDecodeError(f"request of {len(frame)} bytes is shorter than a header")
    return _HEADER.unpack_from(frame, 0)


def decode_request(frame: bytes | bytearray) -> Request:
    """Decode one frame (size prefix already stripped)."""
    # kio's native reader takes read-only buffers only
    data: Frame = memoryview(frame).toreadonly() if isinstance(frame, bytearray) else frame
    api_key, api_version, correlation_id = peek_header(data)
    supported = SUPPORTED_VERSIONS.get(api_key)
    if supported is None or not supported[0] <= api_version <= supported[1]:
        raise UnsupportedVersionError(
            f"api key {api_key} version {api_version} is not supported"
            + (f" (supported {supported[0]}-{supported[1]})" if supported else ""),
            api_key,
            api_version,
            correlation_id,
        )
    try:
        pos = _HEADER.size
        (client_len,) = _INT16.unpack_from(data, pos)
        pos += 2
        client_id = None
        if client_len >= 0:
            client_id = bytes(data[pos : pos + client_len]).decode("utf-8", "replace")
            pos += client_len
            if pos > len(data):
                raise RequestDecodeError("client id runs past the end of the request")
        if is_flexible(api_key, api_version):
            pos = _skip_tagged_fields(data, pos)
        if api_key == ApiKey.PRODUCE and api_version in LEGACY_PRODUCE_VERSIONS:
            body = decode_legacy_produce(data, pos)
        else:
            body, _ = _body_reader(api_key, api_version)(data, pos)
    except RequestDecodeError as exc:
        exc.api_key, exc.api_version, exc.correlation_id = api_key, api_version, correlation_id
        raise
    except Exception as exc:  # kio's native reader raises several types; translate them all
        raise RequestDecodeError(
            f"malformed {ApiKey(api_key).name} v{api_version} request: {type(exc).__name__}: {exc}",
            api_key,
            api_version,
            correlation_id,
        ) from None
    return Request(api_key, api_version, correlation_id, client_id, body, len(data))


def encode_response(api_key: int, api_version: int, correlation_id: int, body: object) -> bytes:
    """A framed response: size, header (v0 or v1), body encoded by kio."""
    buffer = io.BytesIO()
    buffer.write(b"\0\0\0\0")
    buffer.write(correlation_id.to_bytes(4, "big", signed=True))
    if api_key != ApiKey.API_VERSIONS and is_flexible(api_key, api_version):
        buffer.write(b"\0")  # empty tagged fields of response header v1
    _body_writer(type(body))(buffer, body)
    data = buffer.getbuffer()
    data[0:4] = (len(data) - 4).to_bytes(4, "big")
    out = bytes(data)
    del data
    return out


def encode_raw_response(correlation_id: int, payload: bytes) -> bytes:
    """A framed response with header v0 around an already-encoded body."""
    return _SIZE_AND_CORRELATION.pack(len(payload) + 4, correlation_id) + payload
