"""HTTP fetching of playlists and segments (aiohttp), with timeouts, retries and checked bodies.

Errors are translated here, at the boundary, into `FetchError` subclasses that say whether a
retry can help:

    FetchError (retriable unless said otherwise)
    ├── HttpStatusError      an answer other than 200; 404/410 are `SegmentGone` (not retriable)
    ├── TruncatedSegment     fewer bytes than Content-Length, or a body whose container framing
    │                        ends mid-packet (MPEG-TS 188-byte packets, MP4 boxes)
    └── TransportFailure     connect/read timeout, connection reset, DNS

`fetch_segment` retries retriable errors `retries` times with exponential backoff; a segment
that is still missing after that is the caller's gap to record, never a silent loss.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import aiohttp

TS_PACKET = 188
TS_SYNC = 0x47
_BOX_TYPE = re.compile(r"[a-zA-Z0-9 ©]{4}")


class FetchError(Exception):
    """A playlist or segment could not be fetched; `retriable` says whether trying again helps."""

    retriable = True

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class HttpStatusError(FetchError):
    def __init__(self, url: str, status: int) -> None:
        self.status = status
        super().__init__(url, f"HTTP {status}")


class SegmentGone(HttpStatusError):
    """404/410: the origin dropped the segment (it left the live window)."""

    retriable = False


class TruncatedSegment(FetchError):
    """The body is incomplete: a cut connection or a partly written file on the origin."""


class TransportFailure(FetchError):
    """Timeout, refused or reset connection."""


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Timeouts (seconds) and retries for one kind of request."""

    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0  # between two reads of the body
    total_timeout_s: float = 30.0
    retries: int = 3
    backoff_s: float = 0.25


async def fetch_bytes(session: aiohttp.ClientSession, url: str, policy: FetchPolicy) -> bytes:
    """GET `url` once; the whole body or a `FetchError`."""
    timeout = aiohttp.ClientTimeout(
        total=policy.total_timeout_s,
        sock_connect=policy.connect_timeout_s,
        sock_read=policy.read_timeout_s,
    )
    try:
        async with session.get(url, timeout=timeout) as response:
            if response.status in (404, 410):
                raise SegmentGone(url, response.status)
            if response.status != 200:
                raise HttpStatusError(url, response.status)
            body = await response.read()
            expected = response.content_length
    except aiohttp.ClientPayloadError as exc:
        raise TruncatedSegment(url, f"body cut short ({exc})") from None
    except TimeoutError:
        raise TransportFailure(url, f"timed out (policy {policy})") from None
    except aiohttp.ClientError as exc:
        raise TransportFailure(url, f"{type(exc).__name__}: {exc}") from None
    if expected is not None and len(body) != expected:
        raise TruncatedSegment(url, f"{len(body)} bytes, Content-Length says {expected}")
    return body


async def fetch_with_retries(
    session: aiohttp.ClientSession, url: str, policy: FetchPolicy, check: bool = False
) -> bytes:
    """`fetch_bytes` with retries; `check` also verifies the container framing of a segment."""
    attempt = 0
    while True:
        try:
            body = await fetch_bytes(session, url, policy)
            if check:
                check_segment(url, body)
            return body
        except FetchError as exc:
            if not exc.retriable or attempt >= policy.retries:
                raise
        await asyncio.sleep(policy.backoff_s * 2**attempt)
        attempt += 1


def check_segment(url: str, body: bytes) -> None:
    """Raise `TruncatedSegment` unless `body` is whole MPEG-TS packets or whole MP4 boxes."""
    if not body:
        raise TruncatedSegment(url, "empty body")
    if body[0] == TS_SYNC:
        if len(body) % TS_PACKET:
            raise TruncatedSegment(
                url, f"MPEG-TS: {len(body)} bytes is not a whole number of 188-byte packets"
            )
        if body[::TS_PACKET].count(TS_SYNC) != len(body) // TS_PACKET:
            raise TruncatedSegment(url, "MPEG-TS: a packet does not start with the 0x47 sync byte")
        return
    _check_boxes(url, body)


def _check_boxes(url: str, body: bytes) -> None:
    offset = 0
    while offset < len(body):
        if len(body) - offset < 8:
            raise TruncatedSegment(url, f"MP4: {len(body) - offset} stray bytes at {offset}")
        size = int.from_bytes(body[offset : offset + 4], "big")
        box = body[offset + 4 : offset + 8].decode("latin-1")
        if not _BOX_TYPE.fullmatch(box):
            raise TruncatedSegment(url, f"neither MPEG-TS nor MP4 (box type {box!r} at {offset})")
        if size == 1 and len(body) - offset >= 16:
            size = int.from_bytes(body[offset + 8 : offset + 16], "big")
        elif size == 0:
            size = len(body) - offset  # box extends to the end
        if size < 8:
            raise TruncatedSegment(url, f"neither MPEG-TS nor MP4 (box size {size} at {offset})")
        if offset + size > len(body):
            raise TruncatedSegment(
                url, f"MP4: box {box!r} at {offset} needs {size} bytes, {len(body) - offset} left"
            )
        offset += size
