"""What `headwater video` follows and how: typed values, checked when made."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from headwater.sources.video.fetch import FetchPolicy
from headwater.sources.video.frames import FrameSampling
from headwater.sources.video.store import check_stream_name
from headwater.sources.video.variant import check_policy


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One camera or channel: a name (path part and record key) and its playlist URL."""

    name: str
    url: str
    variant: str = "max-bandwidth"

    def __post_init__(self) -> None:
        check_stream_name(self.name)
        check_policy(self.variant)


@dataclass(frozen=True, slots=True)
class VideoConfig:
    broker: str
    lake: str  # object root: a directory or s3://bucket/prefix
    streams: tuple[StreamSpec, ...]
    frames: FrameSampling | None = None
    playlist_fetch: FetchPolicy = field(default_factory=lambda: FetchPolicy(retries=0))
    segment_fetch: FetchPolicy = field(default_factory=FetchPolicy)
    error_backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    restart_backoff_s: float = 2.0
    decode_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_connections: int = 512

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.streams]
        if len(set(names)) != len(names):
            raise ValueError(f"stream names must be unique: {sorted(names)}")
