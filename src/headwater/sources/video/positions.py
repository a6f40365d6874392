"""Follower positions in `_headwater.positions`: key `video:<stream>`, value the next sequence
of the stream's numbering epoch.

Value (JSON): `{"stream": "cam1", "next_sequence": 1234, "epoch": 1, "updated_at": "2026-...Z"}`;
`epoch` counts the origin's numbering restarts (`follower.Restart`), and a value without it (written
before epochs existed) is epoch 0. A position
is written only after the broker acknowledged the `video.segments` records for every sequence
before `next_sequence` (stored segments and gaps alike), so a follower resumed from it neither
repeats nor skips a segment. If the process dies between the acknowledgement and the position
write, the resumed follower records those segments again (at-least-once; the lake deduplicates
by stream and sequence). The topic is compacted; at start we read it from the beginning and keep
the last value per key, which is cheap at one record per segment per stream.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import NamedTuple

import orjson

from headwater import transport

POSITIONS_TOPIC = "_headwater.positions"
KEY_PREFIX = "video:"


class VideoPosition(NamedTuple):
    """Where a stream resumes: `next_sequence` of numbering `epoch`."""

    next_sequence: int
    epoch: int = 0


def position_key(stream: str) -> bytes:
    return f"{KEY_PREFIX}{stream}".encode()


def encode_position(stream: str, next_sequence: int, epoch: int = 0) -> bytes:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return orjson.dumps(
        {"stream": stream, "next_sequence": next_sequence, "epoch": epoch, "updated_at": now}
    )


def read_positions(conn: transport.Transport, timeout_s: float = 30.0) -> dict[str, VideoPosition]:
    """The latest stored position of every video stream (blocking: call from a thread)."""
    with conn.admin() as admin:
        admin.create_topics(
            [transport.TopicSpec(POSITIONS_TOPIC, config={"cleanup.policy": "compact"})],
            exist_ok=True,
        )
        partitions = admin.describe_topic(POSITIONS_TOPIC).partitions
    positions: dict[str, VideoPosition] = {}
    with conn.consumer("headwater-video-positions") as consumer:
        ends: dict[int, int] = {}
        for p in range(partitions):
            low, high = consumer.watermarks(transport.TopicPartition(POSITIONS_TOPIC, p))
            if high > low:
                ends[p] = high
        if not ends:
            return positions
        consumer.assign(
            transport.TopicPartition(POSITIONS_TOPIC, p, transport.EARLIEST) for p in ends
        )
        deadline = time.monotonic() + timeout_s
        while ends:
            if time.monotonic() > deadline:
                raise transport.BrokerUnavailableError(
                    f"{POSITIONS_TOPIC}: not read to its end within {timeout_s}s"
                )
            for record in consumer.consume(1000, 0.5):
                key = record.key or b""
                if key.startswith(KEY_PREFIX.encode()) and record.value is not None:
                    value = orjson.loads(record.value)
                    positions[value["stream"]] = VideoPosition(
                        int(value["next_sequence"]), int(value.get("epoch", 0))
                    )
                if record.offset >= ends.get(record.partition, 0) - 1:
                    ends.pop(record.partition, None)
    return positions
