"""The position store: where CDC readers and video followers resume, in `_headwater.positions`.

One compacted topic, one partition, one key per source (formats: `contracts.positions`). Rules:

1. A position is saved only after the broker acknowledged everything it covers; it is stored once
   the broker acknowledged the position record itself (`CdcPositionWriter.save` calls back then;
   the video follower awaits its position group). A crash in between resumes from the previous
   position: changes or segments may be sent twice, never lost.
2. Loading reads the topic from its start to the end offsets seen when it began, keeping the
   latest value per key (a tombstone deletes). Compaction keeps that short; the read fails only
   when it stops making progress for `stall_timeout_s`, never because the topic is big.
3. Every failure is a `PositionStoreError` (a `transport.TransportError`): retriable when the
   broker is unreachable or stalls, not when a stored record is not a position (its key is named).

Topic settings, chosen as Kafka's `__consumer_offsets` (compacted, one small record per key
and save) but for a low-volume topic: `segment.ms` 1 h so a quiet topic's active segment rolls and
becomes cleanable (the active segment never is), `segment.bytes` 16 MiB to bound the uncleaned
tail a start reads when many sources save often, `min.cleanable.dirty.ratio` 0.1 because a
cleaning pass over a few keys costs nothing, and Kafka's default `delete.retention.ms` (1 day) so a
reader that began before a tombstone was cleaned still sees it. A topic created by older versions
keeps its settings (create does not alter an existing topic).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from headwater import transport
from headwater.contracts import positions as formats
from headwater.contracts.positions import CdcPosition, PositionFormatError
from headwater.contracts.topics import POSITIONS
from headwater.logs import log_event

log = logging.getLogger("headwater.positions")
T = TypeVar("T")

TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "segment.ms": str(60 * 60 * 1000),
    "segment.bytes": str(16 << 20),
    "min.cleanable.dirty.ratio": "0.1",
    "delete.retention.ms": str(24 * 60 * 60 * 1000),
}
#: The consumer group named in the reader's requests; it only assigns, never joins or commits.
READER_GROUP = "headwater-positions"
_BATCH = 50_000


class PositionStoreError(transport.TransportError):
    """Positions could not be read, or a stored one is not a position (rule 3)."""


def topic_spec() -> transport.TopicSpec:
    return transport.TopicSpec(POSITIONS, partitions=1, config=dict(TOPIC_CONFIG))


def ensure_topic(admin: transport.Admin) -> None:
    """Create the positions topic when it does not exist (an existing one is left as it is)."""
    try:
        admin.create_topics([topic_spec()], exist_ok=True)
    except transport.TransportError as exc:
        raise PositionStoreError(
            f"cannot create {POSITIONS}: {exc}", retriable=exc.retriable
        ) from None


def read_latest(conn: transport.Transport, stall_timeout_s: float = 10.0) -> dict[bytes, bytes]:
    """The latest value of every key in the topic, tombstoned keys left out (blocking)."""
    started = time.monotonic()
    try:
        with conn.admin() as admin:
            partitions = admin.list_topics(stall_timeout_s).get(POSITIONS)
        if partitions is None:
            return {}
        latest, records = _read(conn, partitions, stall_timeout_s)
    except PositionStoreError:
        raise
    except transport.TransportError as exc:
        raise PositionStoreError(
            f"cannot read {POSITIONS} from broker {conn.url}: {exc}", retriable=True
        ) from None
    found = {key: value for key, value in latest.items() if key is not None and value is not None}
    log_event(
        log,
        "positions_read",
        logging.DEBUG,
        records=records,
        keys=len(found),
        seconds=round(time.monotonic() - started, 3),
    )
    return found


def _read(
    conn: transport.Transport, partitions: int, stall_timeout_s: float
) -> tuple[dict[bytes | None, bytes | None], int]:
    latest: dict[bytes | None, bytes | None] = {}
    records = 0
    options = transport.ConsumerOptions(fetch_max_wait_ms=100)
    with conn.consumer(READER_GROUP, options) as consumer:
        ends: dict[int, int] = {}
        for p in range(partitions):
            low, high = consumer.watermarks(transport.TopicPartition(POSITIONS, p), stall_timeout_s)
            if high > low:
                ends[p] = high
        if not ends:
            return latest, 0
        consumer.assign(transport.TopicPartition(POSITIONS, p, transport.EARLIEST) for p in ends)
        progressed = time.monotonic()
        while ends:
            cols = consumer.consume_columns(_BATCH, 0.2)
            if len(cols):
                latest.update(zip(cols.key, cols.value, strict=True))  # later offsets win
                records += len(cols)
                progressed = time.monotonic()
            reading = [transport.TopicPartition(POSITIONS, p) for p in ends]
            for part in consumer.position(reading):
                done = part.offset is not None and part.offset >= ends[part.partition]
                if done or consumer.at_end(part):
                    del ends[part.partition]
            if ends and time.monotonic() - progressed > stall_timeout_s:
                raise PositionStoreError(
                    f"reading {POSITIONS} from broker {conn.url} made no progress for "
                    f"{stall_timeout_s:g}s ({records} records read)",
                    retriable=True,
                )
    return latest, records


def load_cdc(
    conn: transport.Transport, source: str, stall_timeout_s: float = 10.0
) -> CdcPosition | None:
    """The stored position of CDC source `source`, or None when it never stored one."""
    latest = read_latest(conn, stall_timeout_s)
    key = formats.cdc_key(source)
    if key not in latest:
        key = formats.legacy_cdc_key(source)
    value = latest.get(key)
    position = None if value is None else _decoded(formats.decode_cdc, value, key)
    log_event(log, "position_loaded", source=source, key=key.decode(), position=position)
    return position


def load_video(
    conn: transport.Transport, stall_timeout_s: float = 10.0
) -> dict[str, formats.VideoPosition]:
    """The stored position (`next_sequence`, `epoch`) of every video stream."""
    out: dict[str, formats.VideoPosition] = {}
    for key, value in read_latest(conn, stall_timeout_s).items():
        stream = formats.video_stream(key)
        if stream is not None:
            out[stream] = _decoded(formats.decode_video, value, key)
    return out


def _decoded(decode: Callable[[bytes, str], T], value: bytes, key: bytes) -> T:
    what = f"{POSITIONS} key {key.decode('utf-8', 'replace')!r}"
    try:
        return decode(value, what)
    except PositionFormatError as exc:
        raise PositionStoreError(str(exc), retriable=False) from None


def video_record(stream: str, next_sequence: int, epoch: int = 0) -> transport.GroupRecord:
    """The position record of a video stream, for a producer group sent once the stream's
    records up to `next_sequence` (of numbering `epoch`) were acknowledged (rule 1)."""
    value = formats.encode_video(stream, next_sequence, epoch)
    return (POSITIONS, value, formats.video_key(stream), None)


class CdcPositionWriter:
    """Produces one CDC source's position records; `on_stored` runs once the broker acknowledged
    one (on the producer's poll thread)."""

    def __init__(self, producer: transport.Producer, source: str, connector: str) -> None:
        self._producer = producer
        self._source = source
        self._key = formats.cdc_key(source)
        self._connector = connector

    def save(self, position: CdcPosition, on_stored: Callable[[CdcPosition], None]) -> None:
        value = formats.encode_cdc(self._source, self._connector, position, int(time.time() * 1000))

        def delivered(delivery: transport.Delivery) -> None:
            if delivery.ok:
                on_stored(position)
            else:
                log_event(log, "position_not_stored", logging.WARNING, error=str(delivery.error))

        self._producer.produce(POSITIONS, value, key=self._key, on_delivery=delivered)
