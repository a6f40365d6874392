"""HLS playlist parser (RFC 8216), sans-IO: text in, `MediaPlaylist` or `MasterPlaylist` out.

Strict where a wrong guess would lose or misplace a segment: a missing `#EXTM3U`, a non-numeric
`EXT-X-MEDIA-SEQUENCE`/`EXTINF`/`EXT-X-TARGETDURATION`, a URI line without its `#EXTINF`, a
media playlist without a target duration, encryption (`EXT-X-KEY` other than NONE) and byte
ranges raise `PlaylistError` naming the line. Tags we do not use are skipped, as the RFC asks
clients to do. Program date-times are carried forward: a segment without its own
`EXT-X-PROGRAM-DATE-TIME` gets the previous one plus the durations in between (RFC 8216 4.3.2.6),
and a discontinuity without a new date-time ends that inference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


class PlaylistError(ValueError):
    """The playlist text breaks RFC 8216 in a way that matters; the origin is at fault.

    Retriable: a live origin may serve a good playlist on the next reload."""

    retriable = True

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(frozen=True, slots=True)
class MediaSegment:
    """One `#EXTINF` entry; `uri` as written (relative URIs are resolved by the caller)."""

    sequence: int
    uri: str
    duration: float
    discontinuity: bool = False  # EXT-X-DISCONTINUITY right before this segment
    discontinuity_sequence: int = 0
    program_date_time: datetime | None = None
    map_uri: str | None = None  # EXT-X-MAP in force (fMP4 initialisation section)
    gap: bool = False  # EXT-X-GAP: the origin says this segment is missing


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    target_duration: float
    media_sequence: int
    segments: tuple[MediaSegment, ...]
    ended: bool = False  # EXT-X-ENDLIST
    discontinuity_sequence: int = 0
    playlist_type: str | None = None  # VOD, EVENT or None (live sliding window)

    @property
    def next_sequence(self) -> int:
        """The media sequence number the origin will give its next segment."""
        return self.media_sequence + len(self.segments)


@dataclass(frozen=True, slots=True)
class Variant:
    """One `#EXT-X-STREAM-INF` rendition of a master playlist."""

    uri: str
    bandwidth: int
    average_bandwidth: int | None = None
    resolution: tuple[int, int] | None = None
    codecs: str | None = None


@dataclass(frozen=True, slots=True)
class MasterPlaylist:
    variants: tuple[Variant, ...]


def parse_playlist(text: str) -> MediaPlaylist | MasterPlaylist:
    """Parse a media or master playlist; raises `PlaylistError` on anything we cannot trust."""
    lines = text.splitlines()
    if not lines or lines[0].lstrip("\ufeff").strip() != "#EXTM3U":
        raise PlaylistError("not an HLS playlist: the first line must be #EXTM3U", 1)
    if any(line.startswith("#EXT-X-STREAM-INF:") for line in lines):
        return _parse_master(lines)
    return _parse_media(lines)


def _parse_media(lines: list[str]) -> MediaPlaylist:
    target: float | None = None
    media_sequence = 0
    disc_sequence = header_disc = 0
    playlist_type = None
    ended = False
    segments: list[MediaSegment] = []
    seen_segment = False
    # State of the next segment, reset after each URI line.
    duration: float | None = None
    discontinuity = gap = False
    pdt: datetime | None = None
    # Carried across segments.
    map_uri: str | None = None
    last_pdt_end: datetime | None = None
    for number, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            if duration is None:
                raise PlaylistError(f"segment URI {line!r} without #EXTINF before it", number)
            seq = media_sequence + len(segments)
            if discontinuity:
                disc_sequence += 1
                if pdt is None:
                    last_pdt_end = None  # times do not carry over a discontinuity
            start = pdt if pdt is not None else last_pdt_end
            segments.append(
                MediaSegment(seq, line, duration, discontinuity, disc_sequence, start, map_uri, gap)
            )
            last_pdt_end = start + timedelta(seconds=duration) if start is not None else None
            duration, discontinuity, gap, pdt = None, False, False, None
            seen_segment = True
            continue
        tag, _, value = line.partition(":")
        if tag == "#EXTINF":
            duration = _number(value.split(",", 1)[0], "#EXTINF duration", number)
        elif tag == "#EXT-X-TARGETDURATION":
            target = _number(value, tag, number)
        elif tag == "#EXT-X-MEDIA-SEQUENCE":
            if seen_segment:
                raise PlaylistError("#EXT-X-MEDIA-SEQUENCE after the first segment", number)
            media_sequence = _integer(value, tag, number)
        elif tag == "#EXT-X-DISCONTINUITY-SEQUENCE":
            disc_sequence = header_disc = _integer(value, tag, number)
        elif tag == "#EXT-X-DISCONTINUITY":
            discontinuity = True
        elif tag == "#EXT-X-PROGRAM-DATE-TIME":
            pdt = _datetime(value, number)
        elif tag == "#EXT-X-GAP":
            gap = True
        elif tag == "#EXT-X-MAP":
            attrs = _attributes(value)
            if "URI" not in attrs:
                raise PlaylistError("#EXT-X-MAP without URI", number)
            if "BYTERANGE" in attrs:
                raise PlaylistError("#EXT-X-MAP with BYTERANGE is not supported", number)
            map_uri = attrs["URI"]
        elif tag == "#EXT-X-KEY":
            method = _attributes(value).get("METHOD", "")
            if method != "NONE":
                raise PlaylistError(
                    f"encrypted segments (METHOD={method}) are not supported", number
                )
        elif tag == "#EXT-X-BYTERANGE":
            raise PlaylistError("#EXT-X-BYTERANGE segments are not supported", number)
        elif tag == "#EXT-X-ENDLIST":
            ended = True
        elif tag == "#EXT-X-PLAYLIST-TYPE":
            playlist_type = value.strip()
    if target is None:
        raise PlaylistError("media playlist without #EXT-X-TARGETDURATION")
    if duration is not None:
        raise PlaylistError("#EXTINF at the end without a segment URI", len(lines))
    return MediaPlaylist(target, media_sequence, tuple(segments), ended, header_disc, playlist_type)


def _parse_master(lines: list[str]) -> MasterPlaylist:
    variants: list[Variant] = []
    pending: dict[str, str] | None = None
    pending_line = 0
    for number, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending, pending_line = _attributes(line.partition(":")[2]), number
        elif not line.startswith("#") and pending is not None:
            if "BANDWIDTH" not in pending:
                raise PlaylistError("#EXT-X-STREAM-INF without BANDWIDTH", pending_line)
            resolution = None
            if "RESOLUTION" in pending:
                w, x, h = pending["RESOLUTION"].lower().partition("x")
                if not (x and w.isdigit() and h.isdigit()):
                    raise PlaylistError(f"bad RESOLUTION {pending['RESOLUTION']!r}", pending_line)
                resolution = (int(w), int(h))
            average = pending.get("AVERAGE-BANDWIDTH")
            variants.append(
                Variant(
                    line,
                    _integer(pending["BANDWIDTH"], "BANDWIDTH", pending_line),
                    _integer(average, "AVERAGE-BANDWIDTH", pending_line) if average else None,
                    resolution,
                    pending.get("CODECS"),
                )
            )
            pending = None
    if pending is not None:
        raise PlaylistError("#EXT-X-STREAM-INF without a URI line after it", pending_line)
    return MasterPlaylist(tuple(variants))


def _attributes(value: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in _ATTRIBUTE.findall(value)}


def _number(value: str, what: str, line: int) -> float:
    try:
        result = float(value.strip())
    except ValueError:
        raise PlaylistError(f"{what}: not a number: {value.strip()!r}", line) from None
    if not (result >= 0 and result != float("inf")):
        raise PlaylistError(f"{what}: must be a finite number >= 0: {value.strip()!r}", line)
    return result


def _integer(value: str, what: str, line: int) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        raise PlaylistError(f"{what}: not a decimal integer: {text!r}", line)
    return int(text)


def _datetime(value: str, line: int) -> datetime:
    text = value.strip()
    try:
        result = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise PlaylistError(f"#EXT-X-PROGRAM-DATE-TIME: not ISO 8601: {text!r}", line) from None
    if result.tzinfo is None:
        raise PlaylistError(f"#EXT-X-PROGRAM-DATE-TIME without a time zone: {text!r}", line)
    return result
