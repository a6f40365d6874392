"""`PartitionLog`: one topic-partition's ordered segments, appended to and read by offset.

The broker's request handlers call this synchronously on the event loop, so every call is bounded
work on whole batches: one validation pass over headers and CRCs, one copy to stamp base offsets,
one os.write; reads are one pread cut at a batch boundary. Nothing here sleeps.

Durability: an append is in the OS page cache when `append` returns (it survives kill -9). The
topic's flush policy decides when it reaches the disk: `always` fdatasyncs before returning;
`interval` and `never` leave it to `flush_due()`, which the broker's background task calls (and
which may run in a worker thread: it only fsyncs descriptors and tolerates a segment being deleted
meanwhile). The log cleaner's thread (`cleaner`) reads sealed segments without a lock and takes
`lock` only to swap cleaned segments in (`swap_cleaned`) or roll a quiet active segment; append,
retention and close hold `lock` too. Reads hold only `read_lock`, which the changes that close or
remove segments (swap, retention, close, delete) take as well, so a read never meets a segment
closed under it and never waits for an append (its write or fsync runs on the writer thread).
Crash recovery, including a swap cut short, is in `loader`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import crc32c

from headwater.broker.log.batch import (
    CRC_START,
    LOG_OVERHEAD,
    BatchHeader,
    iter_batches,
    set_base_offset,
    verify_crc,
)
from headwater.broker.log.config import LogConfig
from headwater.broker.log.errors import (
    InvalidRecordError,
    LogError,
    LogStorageError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    UnknownTopicOrPartitionError,
)
from headwater.broker.log.files import LOG_SUFFIX, SWAP_SUFFIX, fsync_dir, offset_file_name
from headwater.broker.log.loader import (
    load_log,
    mark_clean_shutdown,
    prune_snapshots,
    write_recovery_point,
    write_snapshot,
)
from headwater.broker.log.segment import LogSegment, logger
from headwater.logs import log_event


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an append landed; for a retried idempotent batch, where it landed the first time."""

    base_offset: int
    last_offset: int
    log_start_offset: int
    record_count: int
    duplicate: bool = False


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class PartitionLog:
    """The log of one partition, in `directory` (named `<topic>-<partition>` by the manager)."""

    def __init__(
        self,
        directory: Path,
        config: LogConfig,
        topic: str,
        partition: int,
        *,
        now_ms: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.config = config
        self.topic = topic
        self.partition = partition
        opened_ms = now_ms if now_ms is not None else _wall_clock_ms()
        try:
            loaded = load_log(self.directory, config, opened_ms)
        except OSError as exc:
            raise LogStorageError(f"cannot open {self.directory}: {exc}") from exc
        self._segments = loaded.segments
        self._bases = [segment.base_offset for segment in self._segments]
        self._producers = loaded.producers
        self._recovery_point = loaded.recovery_point
        self._dir_dirty = False
        self._last_flush_ms = opened_ms
        self._closed = False
        # `lock`: held by every call that changes the segment list (append and roll on the
        # broker's writer thread, the cleaner's swap, retention, close). `read_lock`: held by
        # reads and by the changes that close or remove segments (swap, retention, close,
        # delete), never by append, so a read on the event loop never waits for an append's
        # write or fsync, and never meets a segment closed under it. Order: lock, then read_lock.
        self.lock = threading.RLock()
        self.read_lock = threading.RLock()

    def __repr__(self) -> str:
        return (
            f"PartitionLog({self.topic}-{self.partition}, "
            f"offsets=[{self.log_start_offset}, {self.log_end_offset}))"
        )

    # -- state -------------------------------------------------------------------------------

    @property
    def log_start_offset(self) -> int:
        return self._segments[0].base_offset

    @property
    def log_end_offset(self) -> int:
        """The offset the next appended record gets (Kafka's LEO, also the high watermark here)."""
        return self._segments[-1].next_offset

    @property
    def size_bytes(self) -> int:
        return sum(segment.size for segment in self._segments)

    @property
    def segments(self) -> Sequence[LogSegment]:
        return tuple(self._segments)

    @property
    def dirty(self) -> bool:
        """Is there anything a flush would sync?"""
        return (
            self._dir_dirty
            or any(segment.dirty for segment in self._segments)
            or self._recovery_point != self._unflushed_from()
        )

    def _check_open(self) -> None:
        if self._closed:
            raise UnknownTopicOrPartitionError(f"{self.topic}-{self.partition} is closed")

    # -- append ------------------------------------------------------------------------------

    def append(self, records: bytes | bytearray | memoryview, now_ms: int) -> AppendResult:
        """Validate every batch, then store them all at the log end, or store nothing.

        Raises CorruptRecordError, RecordTooLargeError, InvalidRecordError,
        OutOfOrderSequenceError, InvalidProducerEpochError or LogStorageError.
        """
        with self.lock:
            return self._append(records, now_ms)

    def _append(self, records: bytes | bytearray | memoryview, now_ms: int) -> AppendResult:
        self._check_open()
        view = memoryview(records)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        max_bytes = self.config.max_message_bytes
        batches = list(iter_batches(view))
        if not batches:
            raise InvalidRecordError("the produce data holds no record batch")
        crc = crc32c.crc32c
        for pos, header in batches:  # one pass per batch; the raising calls say exactly why
            size = header.batch_length + LOG_OVERHEAD
            if size > max_bytes:
                raise RecordTooLargeError(
                    f"batch at byte {pos} is {size} bytes; max.message.bytes is {max_bytes}"
                )
            if crc(view[pos + CRC_START : pos + size]) != header.crc:
                verify_crc(view, pos, header)
            count = header.records_count
            if (
                count <= 0
                or count != header.last_offset_delta + 1
                or header.attributes & _CONTROL_OR_BAD_CODEC
                or (header.producer_id >= 0 and header.base_sequence < 0)
            ):
                _check_client_batch(pos, header)

        base_offset = next_offset = self.log_end_offset
        producer_append = self._producers.begin()
        placed: list[tuple[int, int, BatchHeader]] = []
        for pos, header in batches:
            if header.producer_id >= 0:
                duplicate = producer_append.add(header, next_offset)
                if duplicate is not None:
                    return AppendResult(
                        duplicate.base_offset,
                        duplicate.last_offset,
                        self.log_start_offset,
                        duplicate.last_offset - duplicate.base_offset + 1,
                        duplicate=True,
                    )
            placed.append((pos, next_offset, header))
            next_offset += header.last_offset_delta + 1

        data = bytearray(view)
        for pos, offset, _ in placed:
            set_base_offset(data, pos, offset)
        active = self._segments[-1]
        if active.failed:
            raise LogStorageError(
                f"{self.topic}-{self.partition} refuses appends after a write it could not undo"
            )
        config = self.config
        if active.is_full(
            len(data), next_offset - 1, now_ms, config.segment_bytes, config.segment_ms
        ):
            active = self._roll(now_ms)
        active.append(data, placed, now_ms)
        producer_append.commit()
        if config.flush_policy == "always":
            active.sync_data()
        return AppendResult(
            base_offset, next_offset - 1, self.log_start_offset, next_offset - base_offset
        )

    def _roll(self, now_ms: int) -> LogSegment:
        """Seal the active segment and start a new one at the log end."""
        old = self._segments[-1]
        try:
            old.seal()
            new = LogSegment(
                self.directory,
                old.next_offset,
                self.config.index_interval_bytes,
                now_ms=now_ms,
                create=True,
            )
        except OSError as exc:
            old.sealed = False
            raise LogStorageError(f"cannot roll {self.topic}-{self.partition}: {exc}") from exc
        self._segments.append(new)
        self._bases.append(new.base_offset)
        self._dir_dirty = True
        try:
            write_snapshot(
                self.directory,
                new.base_offset,
                self._producers,
                self.log_start_offset,
                durable=False,
            )
        except OSError as exc:  # only an optimisation for the next open
            log_event(
                logger,
                "producer_snapshot_failed",
                logging.WARNING,
                file=str(new.log_path),
                error=str(exc),
            )
        if self.config.flush_policy == "always":
            self._sync_dir()
        return new

    # -- read --------------------------------------------------------------------------------

    def read(self, offset: int, max_bytes: int) -> bytes | memoryview:
        """Whole batches from the one containing `offset`; at most max_bytes unless the first
        batch alone is larger (KIP-74: one whole batch always comes back). b"" at the log end."""
        with self.read_lock:
            return self._read(offset, max_bytes)

    def _read(self, offset: int, max_bytes: int) -> bytes | memoryview:
        self._check_open()
        start, end = self.log_start_offset, self.log_end_offset
        if not start <= offset <= end:
            raise OffsetOutOfRangeError(
                f"offset {offset} is outside [{start}, {end}] of {self.topic}-{self.partition}"
            )
        i = bisect_right(self._bases, offset) - 1
        try:
            for segment in self._segments[i:]:
                data = segment.read(offset, max_bytes)
                if data:
                    return data
        except OSError as exc:
            raise LogStorageError(f"read of {self.topic}-{self.partition}: {exc}") from exc
        return b""

    def offset_for_timestamp(self, timestamp_ms: int) -> tuple[int, int] | None:
        """(base offset, maxTimestamp) of the first batch with maxTimestamp >= timestamp_ms.

        Batch granularity: a consumer seeking there may see a few older records, never miss one.
        """
        with self.read_lock:
            return self._offset_for_timestamp(timestamp_ms)

    def _offset_for_timestamp(self, timestamp_ms: int) -> tuple[int, int] | None:
        self._check_open()
        with self._storage_errors("timestamp lookup in"):
            for segment in self._segments:
                if segment.max_timestamp >= timestamp_ms:
                    found = segment.find_by_timestamp(timestamp_ms)
                    if found is not None:
                        return found
        return None

    def max_timestamp(self) -> tuple[int, int] | None:
        """(offset, timestamp) of the batch holding the largest timestamp (ListOffsets -3).

        The offset is that batch's last offset, as Kafka reports it for v2 batches without
        opening them. Segments whose max_timestamp cannot win are not scanned.
        """
        with self.read_lock:
            return self._max_timestamp_batch()

    def _max_timestamp_batch(self) -> tuple[int, int] | None:
        self._check_open()
        best: tuple[int, int] | None = None
        with self._storage_errors("max timestamp lookup in"):
            for segment in reversed(self._segments):
                if best is not None and segment.max_timestamp <= best[1]:
                    continue
                for _, header in segment.iter_headers():
                    if best is None or header.max_timestamp > best[1]:
                        best = (header.base_offset + header.last_offset_delta, header.max_timestamp)
        return best

    @contextlib.contextmanager
    def _storage_errors(self, action: str) -> Iterator[None]:
        """OSError -> LogStorageError, so callers only ever see the LogError tree."""
        try:
            yield
        except OSError as exc:
            raise LogStorageError(f"{action} {self.topic}-{self.partition}: {exc}") from exc

    # -- retention ---------------------------------------------------------------------------

    def apply_retention(self, now_ms: int) -> int:
        """Delete the oldest segments past retention.ms or retention.bytes; returns how many.

        As Kafka: a segment goes when its newest timestamp is older than retention.ms, and the
        oldest segments go while the log stays at least retention.bytes without them. When every
        segment has expired the active one is rolled first, so the log is empty at its old end.
        """
        self._check_open()
        if not self.config.deletes:
            return 0
        with self.lock, self.read_lock, self._storage_errors("retention of"):
            return self._apply_retention(now_ms)

    def _apply_retention(self, now_ms: int) -> int:
        deleted = 0
        retention_ms = self.config.retention_ms
        if retention_ms >= 0:
            count = 0
            for segment in self._segments:
                if segment.size == 0 or now_ms - segment.largest_timestamp_ms() <= retention_ms:
                    break
                count += 1
            deleted += self._delete_oldest(count, now_ms)
        retention_bytes = self.config.retention_bytes
        if retention_bytes >= 0:
            excess = self.size_bytes - retention_bytes
            count = 0
            for segment in self._segments:
                if segment.size == 0 or excess < segment.size:
                    break
                excess -= segment.size
                count += 1
            deleted += self._delete_oldest(count, now_ms)
        return deleted

    def _delete_oldest(self, count: int, now_ms: int) -> int:
        if count == 0:
            return 0
        if count == len(self._segments):
            self._roll(now_ms)
        doomed, self._segments = self._segments[:count], self._segments[count:]
        self._bases = self._bases[count:]
        for segment in doomed:
            segment.delete()
        self._dir_dirty = True
        self._producers.truncate_head(self.log_start_offset)
        with contextlib.suppress(OSError):
            prune_snapshots(self.directory, self.log_start_offset)
        return count

    # -- durability and lifetime -------------------------------------------------------------

    def _unflushed_from(self) -> int:
        """Base offset of the first segment that may hold data not yet fsynced."""
        for segment in list(self._segments):
            if segment.dirty or not segment.sealed:
                return segment.base_offset
        return self.log_end_offset

    def _sync_dir(self) -> None:
        self._dir_dirty = False
        try:
            fsync_dir(self.directory)
        except OSError as exc:
            self._dir_dirty = True
            raise LogStorageError(f"fsync of {self.directory} failed: {exc}") from exc

    def flush(self, *, include_active: bool = True) -> None:
        """fsync what changed since the last flush, then persist the recovery point.

        `include_active=False` syncs only sealed segments: enough to move the recovery point,
        which is what the `never` policy still needs so that a crash recovers one segment only.
        A log closed or deleted meanwhile (by the loop thread) is skipped silently.
        """
        if self._closed:
            return
        try:
            self._flush(include_active)
        except LogError:
            if not self._closed:
                raise

    def _flush(self, include_active: bool) -> None:
        segments = list(self._segments)
        for segment in segments:
            if segment.dirty and (include_active or segment.sealed):
                segment.flush()
        if self._dir_dirty:
            self._sync_dir()
        point = self._unflushed_from()
        if point != self._recovery_point:
            try:
                write_recovery_point(self.directory, point)
            except OSError as exc:
                raise LogStorageError(f"recovery point of {self.directory}: {exc}") from exc
            self._recovery_point = point

    def flush_due(self, now_ms: int) -> None:
        """Apply the flush policy: `interval` syncs everything every flush_interval_ms; every
        policy syncs sealed segments so the recovery point keeps up."""
        if self._closed:
            return
        full = (
            self.config.flush_policy == "interval"
            and now_ms - self._last_flush_ms >= self.config.flush_interval_ms
        )
        if full:
            self._last_flush_ms = now_ms
        if self.dirty:
            self.flush(include_active=full)

    def close(self) -> None:
        """Flush everything, snapshot producer state and mark the shutdown clean."""
        with self.lock, self.read_lock:
            self._close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if any(segment.failed for segment in self._segments):
                return  # leave the marker out: the next open recovers
            self._segments[-1].finish_time_index()
            self._flush(include_active=True)
            write_snapshot(
                self.directory,
                self.log_end_offset,
                self._producers,
                self.log_start_offset,
                durable=True,
            )
            mark_clean_shutdown(self.directory)
        except (OSError, LogError) as exc:
            raise LogStorageError(f"close of {self.topic}-{self.partition}: {exc}") from exc
        finally:
            for segment in self._segments:
                segment.close()

    def delete(self) -> None:
        """Close without flushing and remove the directory."""
        with self.lock, self.read_lock:
            self._closed = True
            for segment in self._segments:
                segment.close()
            shutil.rmtree(self.directory, ignore_errors=True)

    # -- compaction (called by the log cleaner's thread) -------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def producer_last_offsets(self) -> dict[int, int]:
        """Last offset written by each known producer id: its batch there outlives cleaning."""
        with self.lock:
            return {
                pid: entry.batches[-1].last_offset
                for pid, entry in self._producers.producers.items()
                if entry.batches
            }

    def roll_if_quiet(self, now_ms: int) -> bool:
        """Roll a non-empty active segment older than segment.ms even without an append, so a
        quiet compacted topic's last records become cleanable. Returns whether it rolled."""
        with self.lock:
            if self._closed:
                return False
            active = self._segments[-1]
            if active.size == 0 or now_ms - active.rolling_base_ms < self.config.segment_ms:
                return False
            with self._storage_errors("roll of"):
                self._roll(now_ms)
            return True

    def swap_cleaned(self, replaced: Sequence[LogSegment], cleaned: Path) -> LogSegment | None:
        """Replace `replaced` (consecutive sealed segments) by the cleaned file `cleaned`.

        Kafka's order: rename `.cleaned` to `.swap` (the commit point), delete the old segments
        newest first, rename `.swap` to `.log`; the loader finishes the same steps after a crash
        anywhere in between. Returns the new segment, or None (and deletes `cleaned`) when the
        segments changed meanwhile (retention deleted some, or the log was closed).
        """
        with self.lock, self.read_lock:
            segments = self._segments
            first = replaced[0].base_offset
            i = bisect_right(self._bases, first) - 1
            if (
                self._closed
                or i < 0
                or segments[i : i + len(replaced)] != list(replaced)
                or i + len(replaced) >= len(segments)
            ):
                with contextlib.suppress(OSError):
                    os.unlink(cleaned)
                return None
            following = segments[i + len(replaced)].base_offset
            with self._storage_errors("swap of cleaned segments into"):
                swap = cleaned.with_name(offset_file_name(first, SWAP_SUFFIX))
                os.replace(cleaned, swap)
                fsync_dir(self.directory)
                for old in reversed(replaced):
                    old.delete()
                os.replace(swap, self.directory / offset_file_name(first, LOG_SUFFIX))
                fsync_dir(self.directory)
                new = LogSegment(
                    self.directory,
                    first,
                    self.config.index_interval_bytes,
                    now_ms=_wall_clock_ms(),
                )
                new.load_sealed(following)
                new.rebuild_indexes()
                new.index.flush()
                new.time_index.flush()
                new.close_index_files()
            segments[i : i + len(replaced)] = [new]
            self._bases[i : i + len(replaced)] = [first]
            return new


_CONTROL_OR_BAD_CODEC = 0x20 | 0x04  # control batch, or codec >= 4 (only 4, zstd, is valid)


def _check_client_batch(pos: int, header: BatchHeader) -> None:
    """Kafka's LogValidator rules for batches from clients (InvalidRecordError)."""
    if header.records_count <= 0 or header.records_count != header.last_offset_delta + 1:
        raise InvalidRecordError(
            f"batch at byte {pos} counts {header.records_count} records but spans "
            f"{header.last_offset_delta + 1} offsets"
        )
    if header.is_control:
        raise InvalidRecordError(f"batch at byte {pos}: clients may not write control batches")
    if header.compression > 4:
        raise InvalidRecordError(f"batch at byte {pos}: unknown compression {header.compression}")
    if header.producer_id >= 0 and header.base_sequence < 0:
        raise InvalidRecordError(
            f"batch at byte {pos}: producer {header.producer_id} sent sequence "
            f"{header.base_sequence}"
        )
