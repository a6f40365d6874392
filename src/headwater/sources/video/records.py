"""The JSON records of `video.segments` and `video.frames` (one object per record, UTF-8).

`video.segments`, key = stream name (one stream stays ordered in one partition); exactly one
stored or gap record per (epoch, media sequence number) from the start position on:

    {"stream", "epoch", "sequence", "status": "stored" | "gap" | "restart",
     "gap_reason" (gaps only: left_playlist, gap_tag, segment_gone, fetch_failed: <error>),
     "program_date_time" (ISO 8601 or null), "duration" (s), "bytes",
     "checksum" ("sha256:<hex>"), "path" (object URL), "init_path" (fMP4 or null),
     "discontinuity", "discontinuity_sequence", "uri" (where it was fetched), "fetched_at"}

`epoch` counts the origin's numbering restarts (0 until the first). A gap record has null bytes,
checksum and path. A restart record opens every epoch after the first, before its segments: its
`sequence` is where the new epoch is followed from, `discontinuity` is true, and it adds
`restart_reason`, `previous_epoch` and `previous_next_sequence` (the old epoch's records end just
before that number: nothing of it is missing). `video.frames`, key = stream name:

    {"stream", "epoch", "sequence", "index", "pts" (s, stream clock), "offset" (s into the
     segment), "time" (program date-time + offset, or null), "keyframe", "width", "height",
     "format", "bytes", "path"}

Headers on both: `source=video`, `schema=video.segment/1 | video.frame/1`, `ingested_at` (ms).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from headwater import transport
from headwater.contracts.topics import VIDEO_FRAMES, VIDEO_SEGMENTS
from headwater.sources.video.frames import Frame
from headwater.sources.video.playlist import MediaSegment

SEGMENTS_TOPIC = VIDEO_SEGMENTS
FRAMES_TOPIC = VIDEO_FRAMES


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _headers(schema: bytes) -> list[tuple[str, bytes]]:
    return [
        ("source", b"video"),
        ("schema", schema),
        ("ingested_at", str(int(time.time() * 1000)).encode()),
    ]


def segment_record(
    stream: str,
    segment: MediaSegment,
    *,
    uri: str,
    size: int,
    checksum: str,
    path: str,
    init_path: str | None,
    fetched_at: datetime,
    epoch: int = 0,
) -> transport.GroupRecord:
    value: dict[str, Any] = {
        "stream": stream,
        "epoch": epoch,
        "sequence": segment.sequence,
        "status": "stored",
        "gap_reason": None,
        "program_date_time": iso(segment.program_date_time),
        "duration": segment.duration,
        "bytes": size,
        "checksum": checksum,
        "path": path,
        "init_path": init_path,
        "discontinuity": segment.discontinuity,
        "discontinuity_sequence": segment.discontinuity_sequence,
        "uri": uri,
        "fetched_at": iso(fetched_at),
    }
    return (SEGMENTS_TOPIC, orjson.dumps(value), stream.encode(), _headers(b"video.segment/1"))


def gap_record(
    stream: str,
    sequence: int,
    reason: str,
    segment: MediaSegment | None = None,
    uri: str | None = None,
    epoch: int = 0,
) -> transport.GroupRecord:
    value = {
        "stream": stream,
        "epoch": epoch,
        "sequence": sequence,
        "status": "gap",
        "gap_reason": reason,
        "program_date_time": iso(segment.program_date_time) if segment else None,
        "duration": segment.duration if segment else None,
        "bytes": None,
        "checksum": None,
        "path": None,
        "init_path": None,
        "discontinuity": segment.discontinuity if segment else False,
        "discontinuity_sequence": segment.discontinuity_sequence if segment else None,
        "uri": uri,
        "fetched_at": iso(datetime.now(UTC)),
    }
    return (SEGMENTS_TOPIC, orjson.dumps(value), stream.encode(), _headers(b"video.segment/1"))


def restart_record(
    stream: str, epoch: int, sequence: int, previous_next: int, reason: str, uri: str
) -> transport.GroupRecord:
    """The origin restarted its numbering: epoch `epoch` is followed from `sequence` on."""
    value = {
        "stream": stream,
        "epoch": epoch,
        "sequence": sequence,
        "status": "restart",
        "gap_reason": None,
        "restart_reason": reason,
        "previous_epoch": epoch - 1,
        "previous_next_sequence": previous_next,
        "program_date_time": None,
        "duration": None,
        "bytes": None,
        "checksum": None,
        "path": None,
        "init_path": None,
        "discontinuity": True,
        "discontinuity_sequence": None,
        "uri": uri,
        "fetched_at": iso(datetime.now(UTC)),
    }
    return (SEGMENTS_TOPIC, orjson.dumps(value), stream.encode(), _headers(b"video.segment/1"))


def frame_record(
    stream: str, segment: MediaSegment, frame: Frame, fmt: str, path: str, epoch: int = 0
) -> transport.GroupRecord:
    when = None
    if segment.program_date_time is not None:
        when = segment.program_date_time + timedelta(seconds=frame.offset_s)
    value = {
        "stream": stream,
        "epoch": epoch,
        "sequence": segment.sequence,
        "index": frame.index,
        "pts": round(frame.pts_s, 6),
        "offset": round(frame.offset_s, 6),
        "time": iso(when),
        "keyframe": frame.keyframe,
        "width": frame.width,
        "height": frame.height,
        "format": fmt,
        "bytes": len(frame.data),
        "path": path,
    }
    return (FRAMES_TOPIC, orjson.dumps(value), stream.encode(), _headers(b"video.frame/1"))
