"""`LogSegment`: one `.log` file of RecordBatches plus its `.index` and `.timeindex`.

The `.log` file is the batches exactly as produced, baseOffset stamped by the broker, back to back,
nothing else: no file header, no padding. A segment is named by the offset of its first batch and
holds increasing offsets, contiguous except where the log cleaner removed records (a cleaned
batch keeps its base and last offset, so it may hold fewer records than offsets). Only the active
(last) segment of a partition is appended to.

Crash behaviour: a write goes to the OS page cache with os.write before the append returns, so a
killed process loses nothing; a power loss may tear the unsynced tail. Even after a clean shutdown
the last TAIL_CHECK_BYTES of the active segment are CRC-checked on open. `recover()` walks the file
batch by batch (length, magic, CRC-32C, increasing offsets), truncates at the first batch that does
not check out and rebuilds both indexes on the way. A failed os.write is undone with ftruncate, so
the segment never keeps half an append; if even that fails the segment refuses further appends and
the next open recovers it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import crc32c

from headwater.broker.log.batch import (
    BATCH_HEADER_SIZE,
    CRC_START,
    LOG_OVERHEAD,
    MAGIC_V2,
    MIN_BATCH_LENGTH,
    BatchHeader,
    batch_length_at,
    iter_batches,
)
from headwater.broker.log.errors import CorruptRecordError, LogStorageError
from headwater.broker.log.files import (
    INDEX_SUFFIX,
    LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
    offset_file_name,
    write_all,
)
from headwater.broker.log.index import OffsetIndex, TimeIndex
from headwater.logs import log_event

logger = logging.getLogger("headwater.broker.log")

SCAN_CHUNK = 64 * 1024  # header scans read this much at a time
RECOVERY_CHUNK = 8 * 1024 * 1024  # recovery reads whole batches in chunks this large
MAX_RELATIVE_OFFSET = 2**31 - 1  # as Kafka: relative offsets must fit an int32
TAIL_CHECK_BYTES = 1024 * 1024  # CRC-checked at the end of the active segment on a clean open


class LogSegment:
    """One segment file and its indexes; see the module docstring for the format."""

    def __init__(
        self,
        directory: Path,
        base_offset: int,
        index_interval_bytes: int,
        *,
        now_ms: int,
        create: bool = False,
    ) -> None:
        self.base_offset = base_offset
        self.log_path = directory / offset_file_name(base_offset, LOG_SUFFIX)
        self.index = OffsetIndex(
            directory / offset_file_name(base_offset, INDEX_SUFFIX), base_offset
        )
        self.time_index = TimeIndex(
            directory / offset_file_name(base_offset, TIME_INDEX_SUFFIX), base_offset
        )
        self.index_interval_bytes = index_interval_bytes
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if create else 0)
        self._fd = os.open(self.log_path, flags, 0o644)
        self.size = os.fstat(self._fd).st_size
        self.next_offset = base_offset  # one past the last offset stored
        self.rolling_base_ms = now_ms  # age for segment.ms is counted from here
        self.dirty = create  # something written that flush() has not fsynced yet
        self.failed = False  # an append could not be undone; reopen to recover
        self.closed = False
        self.sealed = False  # no longer appended to (not the active segment)
        self._max_timestamp = -1
        self._last_batch_offset = base_offset
        self._bytes_since_index = 0
        self._last_indexed_ts = -1
        self._indexes_loaded = False
        if create:
            self.index.reset()
            self.time_index.reset()
            self._indexes_loaded = True

    def __repr__(self) -> str:
        return f"LogSegment({self.log_path}, size={self.size}, next_offset={self.next_offset})"

    # -- opening -----------------------------------------------------------------------------

    def load_sealed(self, next_offset: int) -> None:
        """Trust a segment that is not the last one; indexes load on first use."""
        self.next_offset = next_offset
        self.sealed = True

    def seal(self) -> None:
        """Stop being the active segment: index the max timestamp; flush() then closes indexes."""
        self.finish_time_index()
        self.sealed = True

    def load_active(self, now_ms: int) -> bool:
        """Open the last segment after a clean shutdown: indexes, a header scan after the last
        entry, and CRCs of the batches in its last TAIL_CHECK_BYTES.

        Returns False if anything disagrees, and the caller then runs `recover()`.
        """
        if not self._load_indexes(None) or not self._tail_checks_out():
            return False
        self._set_rolling_base(now_ms)
        return True

    def _tail_checks_out(self) -> bool:
        """Do the batches from the indexed one at or before size - TAIL_CHECK_BYTES verify?"""
        start_offset, start = self.index.floor_entry(max(self.size - TAIL_CHECK_BYTES, 0))
        if start_offset is None:
            start_offset = self.base_offset
        tail = os.pread(self._fd, self.size - start, start)
        view = memoryview(tail)
        expected = start_offset
        try:
            for pos, header in iter_batches(view):
                crc = crc32c.crc32c(view[pos + CRC_START : pos + header.size])
                if crc != header.crc or header.base_offset != expected:
                    return False
                expected = header.base_offset + header.last_offset_delta + 1
        except CorruptRecordError:
            return False
        finally:
            view.release()
        return expected == self.next_offset

    def _load_indexes(self, next_offset: int | None) -> bool:
        """Load both index files and check them against the batches after the last entry.

        The tail must line up with the last offset-index entry, hold contiguous offsets, be short
        enough that appends would not have indexed any of it, end at `next_offset` (when known),
        and be no newer than the last time-index entry (the segment's max timestamp).
        """
        if not (self.index.load(self.size, next_offset) and self.time_index.load(next_offset)):
            return False
        last = self.index.last_entry()
        expected, start = last if last is not None else (self.base_offset, 0)
        since, tail_max_ts, last_base = 0, -1, expected
        try:
            for _, header in self._scan_headers(start):
                if header.base_offset < expected or since > self.index_interval_bytes:
                    return False
                since += header.size
                tail_max_ts = max(tail_max_ts, header.max_timestamp)
                last_base = header.base_offset
                expected = header.base_offset + header.last_offset_delta + 1
        except CorruptRecordError:
            return False
        last_time_offset = self.time_index.last_offset()
        if (
            (next_offset is not None and expected > next_offset)
            or (last_time_offset is not None and last_time_offset >= expected)
            or self.time_index.last_timestamp < tail_max_ts
        ):
            return False
        self.next_offset = expected if next_offset is None else next_offset
        self._max_timestamp = self._last_indexed_ts = self.time_index.last_timestamp
        self._last_batch_offset = last_base
        self._bytes_since_index = since
        self._indexes_loaded = True
        return True

    def recover(self, now_ms: int) -> int:
        """Validate every batch, truncate at the first bad one, rebuild the indexes.

        Returns the number of bytes cut (0 when the whole file checked out).
        """
        self.index.reset()
        self.time_index.reset()
        self._reset_tail()
        fd = self._fd
        end = os.fstat(fd).st_size
        pos = 0
        buf = b""
        view = memoryview(buf)
        buf_start = 0
        reason = ""
        offset_entries: list[tuple[int, int]] = []
        time_entries: list[tuple[int, int]] = []
        while pos < end:
            rel = pos - buf_start
            if rel + LOG_OVERHEAD > len(buf):
                buf = os.pread(fd, min(RECOVERY_CHUNK, end - pos), pos)
                view, buf_start, rel = memoryview(buf), pos, 0
                if len(buf) < LOG_OVERHEAD:
                    reason = f"{len(buf)} trailing bytes are too short for a batch"
                    break
            length = batch_length_at(buf, rel)
            size = length + LOG_OVERHEAD
            if length < MIN_BATCH_LENGTH:
                reason = f"batch declares length {length}, below the minimum {MIN_BATCH_LENGTH}"
                break
            if pos + size > end:
                reason = f"batch declares length {length} but only {end - pos - 12} bytes follow"
                break
            if rel + size > len(buf):
                buf = os.pread(fd, max(size, min(RECOVERY_CHUNK, end - pos)), pos)
                view, buf_start, rel = memoryview(buf), pos, 0
            header = BatchHeader.parse(buf, rel)
            if header.magic != MAGIC_V2:
                reason = f"batch has magic {header.magic}"
                break
            actual = crc32c.crc32c(view[rel + CRC_START : rel + size])
            if actual != header.crc:
                reason = f"batch CRC 0x{header.crc:08x} but contents hash to 0x{actual:08x}"
                break
            if header.base_offset < self.next_offset:  # gaps are fine: a cleaned segment
                reason = f"batch base offset {header.base_offset}, expected {self.next_offset}"
                break
            if header.last_offset_delta < 0 or not (
                0 <= header.records_count <= header.last_offset_delta + 1
            ):  # fewer records than offsets: compaction kept the batch's last offset
                reason = f"batch counts {header.records_count} records over "
                reason += f"{header.last_offset_delta + 1} offsets"
                break
            self._track(pos, header.base_offset, header, offset_entries, time_entries)
            pos += size
        view.release()
        self.index.append(offset_entries)
        self.time_index.append(time_entries)
        self._last_indexed_ts = self.time_index.last_timestamp
        self._indexes_loaded = True
        cut = end - pos
        if cut:
            os.ftruncate(fd, pos)
            self.dirty = True
            log_event(
                logger,
                "log_tail_truncated",
                logging.WARNING,
                file=str(self.log_path),
                position=pos,
                bytes_cut=cut,
                reason=reason,
            )
        self.size = pos
        self._set_rolling_base(now_ms)
        return cut

    def _set_rolling_base(self, now_ms: int) -> None:
        """After a restart, age counts from the first batch's timestamp (never from the future)."""
        self.rolling_base_ms = now_ms
        if self.size >= BATCH_HEADER_SIZE:
            first = BatchHeader.parse(os.pread(self._fd, BATCH_HEADER_SIZE, 0))
            if 0 <= first.max_timestamp < now_ms:
                self.rolling_base_ms = first.max_timestamp

    def _reset_tail(self) -> None:
        self.next_offset = self.base_offset
        self._max_timestamp = -1
        self._last_batch_offset = self.base_offset
        self._bytes_since_index = 0
        self._last_indexed_ts = -1

    def _ensure_indexes(self) -> None:
        """Load a sealed segment's indexes on first use; rebuild them if they disagree with it."""
        if self._indexes_loaded or self._load_indexes(self.next_offset):
            return
        self.rebuild_indexes()
        if self.sealed:
            self.close_index_files()

    def rebuild_indexes(self) -> None:
        """Rewrite both index files from the batch headers (no CRC checks: the data is trusted)."""
        self.index.reset()
        self.time_index.reset()
        next_offset = self.next_offset
        self._reset_tail()
        offset_entries: list[tuple[int, int]] = []
        time_entries: list[tuple[int, int]] = []
        for pos, header in self._scan_headers(0):
            self._track(pos, header.base_offset, header, offset_entries, time_entries)
        self.index.append(offset_entries)
        self.time_index.append(time_entries)
        self._indexes_loaded = True
        # offsets up to the next segment may be missing (a cleaned segment whose last records
        # were compacted away): reads skip the gap, as Kafka's do over a compacted log
        self.next_offset = max(self.next_offset, next_offset)
        self.finish_time_index()

    # -- appending ---------------------------------------------------------------------------

    def _track(
        self,
        position: int,
        base_offset: int,
        header: BatchHeader,
        offset_entries: list[tuple[int, int]],
        time_entries: list[tuple[int, int]],
    ) -> None:
        """Account for one batch at `position`, collecting the index entries it earns."""
        if header.max_timestamp > self._max_timestamp:
            self._max_timestamp = header.max_timestamp
        if self._bytes_since_index > self.index_interval_bytes:
            relative = base_offset - self.base_offset
            offset_entries.append((relative, position))
            if self._max_timestamp > self._last_indexed_ts:
                time_entries.append((self._max_timestamp, relative))
                self._last_indexed_ts = self._max_timestamp
            self._bytes_since_index = 0
        self._bytes_since_index += header.size
        self._last_batch_offset = base_offset
        self.next_offset = base_offset + header.last_offset_delta + 1

    def append(
        self, data: bytes | bytearray, batches: list[tuple[int, int, BatchHeader]], now_ms: int
    ) -> None:
        """Write `data` (whole batches, offsets already stamped) at the end with one os.write.

        `batches` lists (position in data, assigned base offset, header). All or nothing: on an
        OS error the file and indexes are truncated back and LogStorageError is raised.
        """
        if self.failed or self.closed:
            raise LogStorageError(f"{self.log_path} refuses appends after an unrecoverable error")
        start = self.size
        saved = (
            self.next_offset,
            self._max_timestamp,
            self._last_batch_offset,
            self._bytes_since_index,
            self._last_indexed_ts,
        )
        index_count, time_count = len(self.index), len(self.time_index)
        offset_entries: list[tuple[int, int]] = []
        time_entries: list[tuple[int, int]] = []
        for pos, base_offset, header in batches:
            self._track(start + pos, base_offset, header, offset_entries, time_entries)
        try:
            write_all(self._fd, data)
            self.index.append(offset_entries)
            self.time_index.append(time_entries)
        except OSError as exc:
            (
                self.next_offset,
                self._max_timestamp,
                self._last_batch_offset,
                self._bytes_since_index,
                self._last_indexed_ts,
            ) = saved
            self._undo(start, index_count, time_count)
            raise LogStorageError(f"append to {self.log_path} failed: {exc}") from exc
        if start == 0:
            self.rolling_base_ms = now_ms
        self.size = start + len(data)
        self.dirty = True

    def _undo(self, size: int, index_count: int, time_count: int) -> None:
        try:
            os.ftruncate(self._fd, size)
            self.index.truncate_entries(index_count)
            self.time_index.truncate_entries(time_count)
        except OSError:
            self.failed = True

    def finish_time_index(self) -> None:
        """Index the segment's max timestamp (Kafka does this when a segment stops being active).

        Afterwards the last time-index entry is the segment's exact max timestamp, so reopening
        needs no scan to learn it.
        """
        if self._max_timestamp > self._last_indexed_ts:
            relative = self._last_batch_offset - self.base_offset
            self.time_index.append([(self._max_timestamp, relative)])
            self._last_indexed_ts = self._max_timestamp

    def is_full(
        self, append_size: int, last_offset: int, now_ms: int, segment_bytes: int, segment_ms: int
    ) -> bool:
        """Roll before this append? (It would overflow segment.bytes, or segment.ms has passed.)"""
        if self.size == 0:
            return False
        return (
            self.size + append_size > segment_bytes
            or now_ms - self.rolling_base_ms >= segment_ms
            or last_offset - self.base_offset > MAX_RELATIVE_OFFSET
        )

    # -- reading -----------------------------------------------------------------------------

    @property
    def max_timestamp(self) -> int:
        """Largest batch maxTimestamp in the segment, -1 if none carries one."""
        self._ensure_indexes()
        return self._max_timestamp

    def largest_timestamp_ms(self) -> int:
        """Newest timestamp for retention; the file's mtime when batches carry none (as Kafka)."""
        ts = self.max_timestamp
        return ts if ts >= 0 else os.fstat(self._fd).st_mtime_ns // 1_000_000

    def _scan_headers(self, start: int) -> Iterator[tuple[int, BatchHeader]]:
        """(position, header) of each batch from `start` to the end, reading headers only."""
        end = self.size
        pos = start
        while pos < end:
            buf = os.pread(self._fd, min(SCAN_CHUNK, end - pos), pos)
            off = 0
            while off + BATCH_HEADER_SIZE <= len(buf):
                header = BatchHeader.parse(buf, off)
                if header.batch_length < MIN_BATCH_LENGTH or header.magic != MAGIC_V2:
                    raise CorruptRecordError(
                        f"{self.log_path}: batch at byte {pos + off} has length "
                        f"{header.batch_length} and magic {header.magic}"
                    )
                if pos + off + header.size > end:
                    raise CorruptRecordError(
                        f"{self.log_path}: batch at byte {pos + off} declares length "
                        f"{header.batch_length} but only {end - pos - off - 12} bytes follow"
                    )
                yield pos + off, header
                off += header.size
            if off == 0:
                raise CorruptRecordError(
                    f"{self.log_path}: {end - pos} bytes at byte {pos} are too short for a batch"
                )
            pos += off

    def _locate(self, offset: int) -> tuple[int, BatchHeader] | None:
        """Position and header of the first batch whose last offset is >= `offset`."""
        self._ensure_indexes()
        for pos, header in self._scan_headers(self.index.lookup(offset)):
            if header.base_offset + header.last_offset_delta >= offset:
                return pos, header
        return None

    def read(self, offset: int, max_bytes: int) -> bytes | memoryview:
        """Whole batches from the one containing `offset`: at most max_bytes, at least one batch."""
        found = self._locate(offset)
        if found is None:
            return b""
        pos, header = found
        data = os.pread(self._fd, min(max(max_bytes, header.size), self.size - pos), pos)
        end = len(data)
        cut = 0
        while cut + LOG_OVERHEAD <= end:
            following = cut + LOG_OVERHEAD + batch_length_at(data, cut)
            if following > end:
                break
            cut = following
        return data if cut == end else memoryview(data)[:cut]  # no copy of the whole read

    def find_by_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        """(base offset, maxTimestamp) of the first batch with maxTimestamp >= `timestamp`."""
        self._ensure_indexes()
        start = self.index.lookup(self.time_index.lookup(timestamp))
        for _, header in self._scan_headers(start):
            if header.max_timestamp >= timestamp:
                return header.base_offset, header.max_timestamp
        return None

    def iter_headers(self) -> Iterator[tuple[int, BatchHeader]]:
        """Every batch header in the segment (used to rebuild producer state)."""
        return self._scan_headers(0)

    def iter_batch_bytes(self) -> Iterator[tuple[BatchHeader, memoryview]]:
        """Every whole batch with its header, read RECOVERY_CHUNK at a time (for the cleaner)."""
        end = self.size
        pos = 0
        while pos < end:
            buf = os.pread(self._fd, min(RECOVERY_CHUNK, end - pos), pos)
            view = memoryview(buf)
            off = 0
            while off + BATCH_HEADER_SIZE <= len(buf):
                header = BatchHeader.parse(buf, off)
                if off + header.size > len(buf):
                    break
                yield header, view[off : off + header.size]
                off += header.size
            if off == 0:  # one batch larger than the chunk
                header = BatchHeader.parse(os.pread(self._fd, BATCH_HEADER_SIZE, pos))
                if header.batch_length < MIN_BATCH_LENGTH or pos + header.size > end:
                    raise CorruptRecordError(f"{self.log_path}: bad batch at byte {pos}")
                yield header, memoryview(os.pread(self._fd, header.size, pos))
                off = header.size
            pos += off

    def headers_from(self, offset: int) -> Iterator[BatchHeader]:
        """Headers of the batches from the one containing `offset` on."""
        self._ensure_indexes()
        for _, header in self._scan_headers(self.index.lookup(offset)):
            if header.base_offset + header.last_offset_delta >= offset:
                yield header

    # -- durability and lifetime -------------------------------------------------------------

    def sync_data(self) -> None:
        """fdatasync the log file only (the `always` flush policy; indexes are rebuildable)."""
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            raise LogStorageError(f"fdatasync of {self.log_path} failed: {exc}") from exc

    def flush(self) -> None:
        """fdatasync the log (and, once sealed, its indexes); safe from a worker thread.

        The active segment's indexes are not synced: each fsync forces a journal commit that
        stalls concurrent appends, and recovery rebuilds an index that is stale or torn.
        """
        if self.closed:
            return
        self.dirty = False
        try:
            os.fdatasync(self._fd)
            if self.sealed:  # the active segment's indexes are rebuilt by recovery if stale
                self.index.flush()
                self.time_index.flush()
                self.close_index_files()
        except OSError as exc:
            self.dirty = True
            if self.closed:  # deleted by retention while this thread was syncing it
                return
            raise LogStorageError(f"fsync of {self.log_path} failed: {exc}") from exc

    def close_index_files(self) -> None:
        """A sealed segment never appends to its indexes again: give back the descriptors."""
        self.index.close()
        self.time_index.close()

    def close(self) -> None:
        """Close the descriptors; writes nothing (a crash looks exactly like this)."""
        if self.closed:
            return
        self.closed = True
        self.index.close()
        self.time_index.close()
        os.close(self._fd)

    def delete(self) -> None:
        """Close and remove the three files."""
        self.close()
        self.index.delete()
        self.time_index.delete()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.log_path)


def last_offset_in_file(path: Path) -> int:
    """Last offset of the last whole batch in a log file (-1 if none): the range a swap covers."""
    fd = os.open(path, os.O_RDONLY)
    try:
        end = os.fstat(fd).st_size
        pos, last = 0, -1
        while pos + BATCH_HEADER_SIZE <= end:
            header = BatchHeader.parse(os.pread(fd, BATCH_HEADER_SIZE, pos))
            if header.batch_length < MIN_BATCH_LENGTH or pos + header.size > end:
                break
            last = header.last_offset
            pos += header.size
        return last
    finally:
        os.close(fd)
