"""Opening a partition directory: segments, crash recovery, producer state (Kafka's LogLoader).

A partition directory holds, besides the segment files:

    .clean-shutdown     empty; written last by a clean close, deleted (durably) first on open
    recovery-point      decimal offset: every segment below it was fsynced whole (log and indexes)
    <offset>.snapshot   producer state as of that offset (see producer_state)
    *.tmp               a replacement that never got renamed in: deleted
    <offset>.log.cleaned  a segment the log cleaner was still writing: deleted
    <offset>.log.swap     a cleaned segment committed to replace the segments whose base offsets
                        fall in [offset, its next offset): those are deleted, then it is renamed
                        to <offset>.log (Kafka's LogLoader completes swaps the same way)

Crash behaviour. After a clean shutdown the indexes are trusted: they are loaded, the few batches
after the last index entry of the active segment are scanned and the batches in its last MiB are
CRC-checked (anything that does not line up falls back to recovery of that segment). After a
crash, every segment from the one holding the recovery point on is recovered batch by batch
(lengths, magic, CRC, contiguous offsets) with its indexes rebuilt; the first segment that has to
be cut becomes the last one and any segment after it is deleted, since its offsets could no longer
follow. Producer state is then replayed from batch headers, starting at the newest snapshot at or
below the log end.
"""

from __future__ import annotations

import contextlib
import logging
import os
from bisect import bisect_right
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from headwater.broker.log.config import LogConfig
from headwater.broker.log.files import (
    CLEANED_SUFFIX,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    SNAPSHOT_SUFFIX,
    SWAP_SUFFIX,
    TIME_INDEX_SUFFIX,
    TMP_SUFFIX,
    fsync_dir,
    offset_file_name,
    parse_offset_file_name,
    read_file,
    write_atomically,
)
from headwater.broker.log.producer_state import ProducerStateManager
from headwater.broker.log.segment import LogSegment, last_offset_in_file
from headwater.logs import log_event

logger = logging.getLogger("headwater.broker.log")

CLEAN_SHUTDOWN_FILE = ".clean-shutdown"
RECOVERY_POINT_FILE = "recovery-point"
SNAPSHOTS_KEPT = 3


@dataclass(slots=True)
class LoadedLog:
    segments: list[LogSegment]
    producers: ProducerStateManager
    recovery_point: int


def load_log(directory: Path, config: LogConfig, now_ms: int) -> LoadedLog:
    """Open (creating if needed) the partition in `directory`, recovering it after a crash."""
    directory.mkdir(parents=True, exist_ok=True)
    marker = directory / CLEAN_SHUTDOWN_FILE
    clean = marker.exists()
    if clean:
        os.unlink(marker)  # from here on a crash must be detected as one
        fsync_dir(directory)
    bases = _scan_directory(directory)
    interval = config.index_interval_bytes
    if not bases:
        segment = LogSegment(directory, 0, interval, now_ms=now_ms, create=True)
        return LoadedLog([segment], ProducerStateManager(), 0)
    segments = [LogSegment(directory, base, interval, now_ms=now_ms) for base in bases]
    recovery_point = read_recovery_point(directory)
    try:
        if clean:
            _open_clean(segments, now_ms)
        else:
            segments = _open_after_crash(segments, recovery_point, now_ms)
        producers = _load_producer_state(directory, segments)
    except BaseException:
        for segment in segments:
            segment.close()
        raise
    return LoadedLog(segments, producers, recovery_point)


def _scan_directory(directory: Path) -> list[int]:
    """Base offsets of the segments; deletes temporary files and indexes without a log, and
    finishes or abandons interrupted cleaner swaps."""
    _finish_swaps(directory)
    names = os.listdir(directory)
    bases = sorted(
        base for name in names if (base := parse_offset_file_name(name, LOG_SUFFIX)) is not None
    )
    logs = set(bases)
    for name in names:
        orphan_index = any(
            (base := parse_offset_file_name(name, suffix)) is not None and base not in logs
            for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX)
        )
        if orphan_index or name.endswith(TMP_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(directory / name)
    return bases


def _finish_swaps(directory: Path) -> None:
    """Delete `.cleaned` files (never committed) and complete `.swap` files (committed)."""
    names = sorted(os.listdir(directory))
    changed = False
    for name in names:
        if name.endswith(CLEANED_SUFFIX):
            os.unlink(directory / name)
            changed = True
    for name in names:
        base = parse_offset_file_name(name, SWAP_SUFFIX)
        if base is None:
            continue
        swap = directory / name
        end = last_offset_in_file(swap) + 1
        end = max(end, base + 1)
        for other in os.listdir(directory):
            for suffix in (LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX):
                old = parse_offset_file_name(other, suffix)
                if old is not None and base <= old < end:
                    os.unlink(directory / other)
        os.replace(swap, directory / offset_file_name(base, LOG_SUFFIX))
        log_event(logger, "log_swap_completed", logging.WARNING, file=str(swap), next_offset=end)
        changed = True
    if changed:
        fsync_dir(directory)


def _open_clean(segments: list[LogSegment], now_ms: int) -> None:
    for segment, following in pairwise(segments):
        segment.load_sealed(following.base_offset)
    active = segments[-1]
    if not active.load_active(now_ms):
        log_event(
            logger,
            "log_tail_check_failed",
            logging.WARNING,
            file=str(active.log_path),
            action="recovering the segment",
        )
        active.recover(now_ms)


def _open_after_crash(
    segments: list[LogSegment], recovery_point: int, now_ms: int
) -> list[LogSegment]:
    bases = [segment.base_offset for segment in segments]
    first = max(bisect_right(bases, recovery_point) - 1, 0)
    for segment, following in pairwise(segments[: first + 1]):
        segment.load_sealed(following.base_offset)
    for i in range(first, len(segments)):
        segment = segments[i]
        cut = segment.recover(now_ms)
        if i == len(segments) - 1:
            break
        following = segments[i + 1]
        if cut or segment.next_offset > following.base_offset:  # a gap: cleaned away
            for dropped in segments[i + 1 :]:
                log_event(
                    logger,
                    "log_segment_dropped",
                    logging.WARNING,
                    file=str(dropped.log_path),
                    bytes_cut=dropped.size,
                    reason="it follows a truncated segment",
                )
                dropped.delete()
            del segments[i + 1 :]
            break
        segment.next_offset = following.base_offset
        segment.seal()
        segment.dirty = True  # rebuilt indexes are not on disk yet
    return segments


def _load_producer_state(directory: Path, segments: list[LogSegment]) -> ProducerStateManager:
    producers = ProducerStateManager()
    log_start, log_end = segments[0].base_offset, segments[-1].next_offset
    start = log_start
    for offset in sorted(snapshot_offsets(directory), reverse=True):
        path = directory / offset_file_name(offset, SNAPSHOT_SUFFIX)
        if offset > log_end:
            path.unlink(missing_ok=True)  # describes data a crash took away
            continue
        data = read_file(path)
        if data is not None and producers.load_snapshot(data):
            start = max(offset, log_start)
            break
        path.unlink(missing_ok=True)
    for segment in segments:
        if segment.next_offset > start:
            for header in segment.headers_from(start):
                producers.replay(header)
    producers.truncate_head(log_start)
    return producers


def snapshot_offsets(directory: Path) -> list[int]:
    return [
        offset
        for name in os.listdir(directory)
        if (offset := parse_offset_file_name(name, SNAPSHOT_SUFFIX)) is not None
    ]


def write_snapshot(
    directory: Path, offset: int, producers: ProducerStateManager, log_start: int, *, durable: bool
) -> None:
    """Write `<offset>.snapshot`; keep the newest few at or above the log start."""
    write_atomically(
        directory / offset_file_name(offset, SNAPSHOT_SUFFIX),
        producers.to_snapshot(),
        durable=durable,
    )
    prune_snapshots(directory, log_start)


def prune_snapshots(directory: Path, log_start: int) -> None:
    offsets = sorted(snapshot_offsets(directory), reverse=True)
    for i, offset in enumerate(offsets):
        if i > 0 and (i >= SNAPSHOTS_KEPT or offset < log_start):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(directory / offset_file_name(offset, SNAPSHOT_SUFFIX))


def read_recovery_point(directory: Path) -> int:
    """The persisted recovery point; 0 (recover everything) when missing or unreadable."""
    data = read_file(directory / RECOVERY_POINT_FILE)
    try:
        return int(data.decode("ascii").strip()) if data else 0
    except (UnicodeDecodeError, ValueError):
        return 0


def write_recovery_point(directory: Path, offset: int) -> None:
    """Not fsynced: it is written after the segments it vouches for were synced, so whichever
    version survives a power loss (the rename is atomic) is safe; a missing or unreadable file
    only means a longer recovery."""
    write_atomically(directory / RECOVERY_POINT_FILE, f"{offset}\n".encode(), durable=False)


def mark_clean_shutdown(directory: Path) -> None:
    write_atomically(directory / CLEAN_SHUTDOWN_FILE, b"")
