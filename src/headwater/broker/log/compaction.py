"""Compaction of one partition: keep the latest record per key in its closed segments.

Kafka's LogCleaner, pass by pass:

1. Plan (under the partition lock, briefly): the cleanable segments are the sealed ones from the
   log start up to the active segment, or up to the first one holding a record newer than
   `min.compaction.lag.ms`. Clean when dirty bytes (segments at or after the cleaner checkpoint)
   make up `min.cleanable.dirty.ratio` of the cleanable bytes, or when a tombstone kept by an
   earlier pass has outlived `delete.retention.ms`.
2. Map (no lock): key -> offset of its last record, over the cleanable segments.
3. Copy (no lock), in groups of consecutive segments that fit `segment.bytes`: a record is kept
   when it is the last of its key, or has no key; the last record of a key is dropped only when
   it is a tombstone (null value) whose timestamp is more than `delete.retention.ms` old. Batches
   keep their base and last offsets (offsets are preserved; gaps appear); a batch left with no
   record is dropped unless it is the last batch its producer wrote, which stays, empty, so the
   producer's sequence numbers survive (Kafka's rule). The record at the log's last offset is
   never removed (Kafka never cleans it: it is always in the active segment there). Control and
   transactional batches, and batches that do not decode, are copied unchanged. Each group
   becomes `<base>.log.cleaned`, fsynced, then swapped in under the lock
   (`PartitionLog.swap_cleaned`).

The checkpoint file `cleaner-offset-checkpoint` in the partition directory holds "<offset>
<tombstone expiry ms>": where the last pass stopped and when its oldest kept tombstone expires
(-1: none). It is written atomically and only after the swaps; losing it only costs a full pass.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from headwater.broker.log.batch import BatchHeader
from headwater.broker.log.errors import CorruptRecordError
from headwater.broker.log.files import (
    CLEANED_SUFFIX,
    offset_file_name,
    read_file,
    write_all,
    write_atomically,
)
from headwater.broker.log.partition_log import PartitionLog
from headwater.broker.log.records import decode_records, payload, rebuild_batch
from headwater.broker.log.segment import LogSegment
from headwater.logs import log_event

logger = logging.getLogger("headwater.broker.log")

CHECKPOINT_FILE = "cleaner-offset-checkpoint"
_MAX_GROUP_OFFSETS = 2**31 - 1  # relative offsets in one segment must fit an int32
_UNTOUCHED = 0x10 | 0x20  # transactional or control batch: copied as is


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where cleaning stopped, and when a tombstone kept by it may go (-1: none kept)."""

    offset: int = 0
    tombstone_expiry_ms: int = -1


@dataclass(frozen=True, slots=True)
class CleanResult:
    """What one pass over a partition did (the fields of the `log_cleaned` line)."""

    topic: str
    partition: int
    bytes_before: int
    bytes_after: int
    records_removed: int
    segments_before: int
    segments_after: int
    cleaned_to: int
    duration_ms: float


def read_checkpoint(directory: Path) -> Checkpoint:
    data = read_file(directory / CHECKPOINT_FILE)
    try:
        offset, expiry = data.decode("ascii").split() if data else ("0", "-1")
        return Checkpoint(int(offset), int(expiry))
    except (UnicodeDecodeError, ValueError):
        return Checkpoint()


def write_checkpoint(directory: Path, checkpoint: Checkpoint) -> None:
    text = f"{checkpoint.offset} {checkpoint.tombstone_expiry_ms}\n"
    write_atomically(directory / CHECKPOINT_FILE, text.encode(), durable=False)


def cleanable_segments(log: PartitionLog, now_ms: int) -> list[LogSegment]:
    """Sealed segments from the log start that compaction may rewrite now (under the lock)."""
    lag = log.config.min_compaction_lag_ms
    with log.lock:
        out = []
        for segment in log.segments[:-1]:
            if lag > 0 and segment.max_timestamp > now_ms - lag:
                break
            out.append(segment)
        return out


def dirty_ratio(segments: list[LogSegment], checkpoint: Checkpoint) -> tuple[float, int]:
    """(dirty bytes / cleanable bytes, dirty bytes) of a cleanable range."""
    total = sum(segment.size for segment in segments)
    dirty = sum(s.size for s in segments if s.base_offset >= checkpoint.offset)
    return (dirty / total if total else 0.0), dirty


def needs_cleaning(log: PartitionLog, now_ms: int) -> bool:
    """Is the partition past its dirty ratio, or holding an expired tombstone?"""
    segments = cleanable_segments(log, now_ms)
    if not segments:
        return False
    checkpoint = read_checkpoint(log.directory)
    ratio, dirty = dirty_ratio(segments, checkpoint)
    expired = 0 <= checkpoint.tombstone_expiry_ms <= now_ms
    return (dirty > 0 and ratio >= log.config.min_cleanable_dirty_ratio) or expired


class CleaningAborted(Exception):
    """`stop()` said so mid-pass: the partial `.cleaned` file is gone, nothing was swapped."""


def _never() -> bool:
    return False


def clean(log: PartitionLog, now_ms: int, stop: Callable[[], bool] = _never) -> CleanResult | None:
    """One compaction pass over `log` (see the module docstring); None if nothing to clean.

    `stop` is asked between batches; when it answers True the pass raises CleaningAborted
    (groups already swapped in stay cleaned)."""
    started = time.perf_counter()
    segments = cleanable_segments(log, now_ms)
    if not segments:
        return None
    with log.lock:
        log_last_offset = log.log_end_offset - 1
    rules = _Rules(
        _offset_map(segments, stop),
        log.producer_last_offsets(),
        now_ms,
        log.config.delete_retention_ms,
        log_last_offset,
    )
    removed = 0
    expiry = -1
    bytes_before = sum(segment.size for segment in segments)
    bytes_after = 0
    kept_segments = 0
    for group in _groups(segments, log.config.segment_bytes):
        path = log.directory / offset_file_name(group[0].base_offset, CLEANED_SUFFIX)
        counts = _copy_group(group, path, rules, stop)
        new = log.swap_cleaned(group, path)
        if new is None:  # retention or a delete got there first: try again next pass
            return None
        removed += counts.removed
        bytes_after += new.size
        kept_segments += 1
        if counts.tombstone_expiry >= 0:
            due = counts.tombstone_expiry
            expiry = due if expiry < 0 else min(expiry, due)
    cleaned_to = _end_of(log, segments[-1])
    write_checkpoint(log.directory, Checkpoint(cleaned_to, expiry))
    result = CleanResult(
        log.topic,
        log.partition,
        bytes_before,
        bytes_after,
        removed,
        len(segments),
        kept_segments,
        cleaned_to,
        round((time.perf_counter() - started) * 1000, 1),
    )
    log_event(
        logger,
        "log_cleaned",
        topic=result.topic,
        partition=result.partition,
        bytes_before=result.bytes_before,
        bytes_after=result.bytes_after,
        records_removed=result.records_removed,
        segments_before=result.segments_before,
        segments_after=result.segments_after,
        cleaned_to=result.cleaned_to,
        duration_ms=result.duration_ms,
    )
    return result


def _end_of(log: PartitionLog, last_cleaned: LogSegment) -> int:
    """The base offset of the segment after the cleaned range: the next pass's checkpoint."""
    with log.lock:
        for segment in log.segments:
            if segment.base_offset > last_cleaned.base_offset:
                return segment.base_offset
        return log.log_end_offset


def _offset_map(segments: list[LogSegment], stop: Callable[[], bool]) -> dict[bytes, int]:
    """Key -> offset of its last record in `segments` (Kafka's OffsetMap, exact here)."""
    latest: dict[bytes, int] = {}
    for segment in segments:
        for header, batch in segment.iter_batch_bytes():
            if stop():
                raise CleaningAborted(f"{segment.log_path}: stopped while mapping keys")
            if header.attributes & _UNTOUCHED:
                continue
            try:
                records = decode_records(payload(batch, header), header)
            except CorruptRecordError:
                continue
            base = header.base_offset
            for record in records:
                if record.key is not None:
                    latest[record.key] = base + record.offset_delta
    return latest


def _groups(segments: list[LogSegment], segment_bytes: int) -> list[list[LogSegment]]:
    """Consecutive segments whose sizes add up to at most segment.bytes (at least one each)."""
    groups: list[list[LogSegment]] = []
    size = 0
    for segment in segments:
        current = groups[-1] if groups else None
        if (
            current is not None
            and size + segment.size <= segment_bytes
            and segment.next_offset - current[0].base_offset <= _MAX_GROUP_OFFSETS
        ):
            current.append(segment)
            size += segment.size
        else:
            groups.append([segment])
            size = segment.size
    return groups


@dataclass(frozen=True, slots=True)
class _Rules:
    """What decides the fate of each record in one pass."""

    latest: dict[bytes, int]  # key -> offset of its last record
    last_batches: dict[int, int]  # producer id -> last offset it wrote
    now_ms: int
    delete_retention_ms: int
    log_last_offset: int  # the record there is never removed (see _clean_batch)


@dataclass(slots=True)
class _GroupCounts:
    removed: int = 0
    tombstone_expiry: int = -1


def _copy_group(
    group: list[LogSegment],
    path: Path,
    rules: _Rules,
    stop: Callable[[], bool],
) -> _GroupCounts:
    """Write the kept part of `group` to `path` and fsync it."""
    counts = _GroupCounts()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        pending: list[bytes | memoryview] = []
        pending_bytes = 0
        for segment in group:
            for header, batch in segment.iter_batch_bytes():
                if stop():
                    raise CleaningAborted(f"{path}: stopped while copying")
                out = _clean_batch(header, batch, rules, counts)
                if out is None:
                    continue
                pending.append(out)
                pending_bytes += len(out)
                if pending_bytes >= 1 << 20:
                    write_all(fd, b"".join(pending))
                    pending, pending_bytes = [], 0
        write_all(fd, b"".join(pending))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    return counts


def _clean_batch(
    header: BatchHeader,
    batch: memoryview,
    rules: _Rules,
    counts: _GroupCounts,
) -> bytes | memoryview | None:
    """The batch as compaction leaves it: unchanged, rebuilt with fewer records, or None.

    The record at the log's last offset always stays (it can only go as an expired tombstone):
    consumers find the end of a partition by reaching a record at log end - 1 (librdkafka's
    EOF, kcat -e, the position reader), and in Kafka that record is never cleaned since it is
    always in the active segment; here the cleaner may have rolled a quiet one."""
    last_batches = rules.last_batches
    if header.attributes & _UNTOUCHED or header.records_count == 0:
        return batch if header.records_count or _producer_needs(header, last_batches) else None
    try:
        data = payload(batch, header)
        records = decode_records(data, header)
    except CorruptRecordError as exc:
        log_event(logger, "log_cleaner_batch_kept", logging.WARNING, reason=str(exc))
        return batch
    base = header.base_offset
    kept = []
    for record in records:
        key = record.key
        if key is not None:
            offset = base + record.offset_delta
            if rules.latest.get(key, offset) > offset:
                continue
            if record.tombstone:
                due = record.timestamp + rules.delete_retention_ms
                if due <= rules.now_ms and offset != rules.log_last_offset:
                    continue
                counts.tombstone_expiry = (
                    due if counts.tombstone_expiry < 0 else min(counts.tombstone_expiry, due)
                )
        kept.append(record)
    counts.removed += len(records) - len(kept)
    if len(kept) == len(records):
        return batch
    if not kept and not _producer_needs(header, last_batches):
        return None
    return rebuild_batch(header, data, kept)


def _producer_needs(header: BatchHeader, last_batches: dict[int, int]) -> bool:
    """Is this the last batch its idempotent producer wrote? (Kafka keeps it, even empty.)"""
    return header.producer_id >= 0 and last_batches.get(header.producer_id) == header.last_offset
