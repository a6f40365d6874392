"""The records of `_headwater.positions`: where each source resumes (DESIGN.md, "Topics").

One compacted topic holds every kind; the key says whose position a record is, the value (JSON,
UTF-8) what it is. The latest record of a key is the position; a null value (tombstone) deletes it.

    kind   key               value
    CDC    cdc:<source>      {"source", "connector", "position", "ts_ms"}
                             position: PostgreSQL {"lsn": "X/Y", "lsn_int", "txId"},
                             MySQL/MariaDB {"gtid", "file", "pos"}; a reader may add its own
                             state (an incremental snapshot's "incremental" block)
    video  video:<stream>    {"stream", "next_sequence", "epoch", "updated_at": ISO-8601 UTC}
                             epoch: how many times the origin restarted its numbering
                             (`sources.video.follower.Restart`); absent (older builds) = 0

Earlier builds of 0.1.0 wrote CDC positions under the bare source name (`<source>`): readers
still take that key when the `cdc:` one is absent (`legacy_cdc_key`); it is never written.
Source and stream names hold no `:` (their own checks), so the kinds never share a key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple, TypedDict

import orjson

CDC_PREFIX = "cdc:"
VIDEO_PREFIX = "video:"

#: What a CDC reader resumes from (the `position` of its record).
CdcPosition = dict[str, Any]


class CdcPositionRecord(TypedDict):
    source: str
    connector: str  # "postgresql" | "mysql"
    position: CdcPosition
    ts_ms: int  # when it was written


class VideoPositionRecord(TypedDict):
    stream: str
    next_sequence: int  # the media sequence number the follower fetches next
    epoch: int  # the numbering epoch `next_sequence` belongs to
    updated_at: str  # ISO-8601 UTC, milliseconds, suffix Z


class VideoPosition(NamedTuple):
    """Where a stream resumes: `next_sequence` of numbering `epoch`."""

    next_sequence: int
    epoch: int = 0


class PositionFormatError(ValueError):
    """A stored record that is not a position of its kind."""


def cdc_key(source: str) -> bytes:
    return f"{CDC_PREFIX}{source}".encode()


def legacy_cdc_key(source: str) -> bytes:
    """The key CDC positions had before the `cdc:` prefix: read, never written."""
    return source.encode()


def video_key(stream: str) -> bytes:
    return f"{VIDEO_PREFIX}{stream}".encode()


def video_stream(key: bytes) -> str | None:
    """The stream a `video:` key names, or None for another kind's key."""
    text = key.decode("utf-8", "replace")
    return text[len(VIDEO_PREFIX) :] if text.startswith(VIDEO_PREFIX) else None


def encode_cdc(source: str, connector: str, position: CdcPosition, ts_ms: int) -> bytes:
    record: CdcPositionRecord = {
        "source": source,
        "connector": connector,
        "position": position,
        "ts_ms": ts_ms,
    }
    return orjson.dumps(record)


def encode_video(
    stream: str, next_sequence: int, epoch: int = 0, now: datetime | None = None
) -> bytes:
    at = (now or datetime.now(UTC)).astimezone(UTC)
    record: VideoPositionRecord = {
        "stream": stream,
        "next_sequence": next_sequence,
        "epoch": epoch,
        "updated_at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    return orjson.dumps(record)


def _object(value: bytes, what: str) -> dict[str, Any]:
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise PositionFormatError(f"{what}: not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise PositionFormatError(f"{what}: a JSON {type(record).__name__}, not an object")
    return record


def decode_cdc(value: bytes, what: str = "CDC position") -> CdcPosition:
    """The `position` of a CDC record; raises PositionFormatError."""
    position = _object(value, what).get("position")
    if not isinstance(position, dict):
        raise PositionFormatError(f"{what}: 'position' is {position!r}, not an object")
    return position


def decode_video(value: bytes, what: str = "video position") -> VideoPosition:
    """The position of a video record; raises PositionFormatError."""
    record = _object(value, what)
    numbers = []
    for name, default in (("next_sequence", None), ("epoch", 0)):
        number = record.get(name, default)
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise PositionFormatError(f"{what}: {name!r} is {number!r}, not an integer >= 0")
        numbers.append(number)
    return VideoPosition(*numbers)
