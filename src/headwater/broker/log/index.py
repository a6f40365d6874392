"""Sparse segment indexes: `OffsetIndex` (offset -> file position) and `TimeIndex` (time -> offset).

On disk, big endian, entries only (no header, no preallocation, so the file size is exactly
entries x entry size):

    .index       relative offset uint32, position uint32                  8 bytes per entry
    .timeindex   timestamp int64, relative offset uint32                  12 bytes per entry

Relative offsets are `offset - segment base offset`. An offset-index entry names the base offset of
a batch and the byte position where that batch starts. A time-index entry (T, o) says that every
batch up to and including the one at offset o has maxTimestamp <= T; T strictly increases.

The segment appends one entry per `index.interval.bytes` of log appended, so a lookup lands at most
that many bytes (plus one batch) before its target, and the rest is a short scan of batch headers.
Entries are mirrored in memory (`array`s) and looked up with bisect; appends go to the file with
os.write.

Indexes are not checksummed. In the event of a crash, a missing file, a size that is not a whole
number of entries, or any inconsistency with the log, they are rebuilt from the log.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
from array import array
from bisect import bisect_left, bisect_right
from itertools import pairwise
from pathlib import Path

from headwater.broker.log.files import read_file, write_all

_NEEDS_SWAP = sys.byteorder == "little"


class _IndexFile:
    """An append-only file of fixed-size entries, opened lazily for appends."""

    entry_size = 0

    def __init__(self, path: Path, base_offset: int) -> None:
        self.path = path
        self.base_offset = base_offset
        self._fd: int | None = None

    def _append_fd(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        return self._fd

    def _read_entries_bytes(self) -> bytes | None:
        """The file's bytes, or None when missing or not a whole number of entries."""
        data = read_file(self.path)
        if data is None or len(data) % self.entry_size:
            return None
        return data

    def _write_entries(self, data: bytes, count_before: int) -> None:
        """Append encoded entries; on failure cut the file back so no partial entry remains."""
        fd = self._append_fd()
        try:
            write_all(fd, data)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, count_before * self.entry_size)
            raise

    def _empty_file(self) -> None:
        """Start the file over (O_TRUNC when opening it, ftruncate when already open)."""
        if self._fd is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC
            self._fd = os.open(self.path, flags, 0o644)
        else:
            os.ftruncate(self._fd, 0)

    def _truncate_file(self, entries: int) -> None:
        os.ftruncate(self._append_fd(), entries * self.entry_size)

    def flush(self) -> None:
        """fsync the file, opening it if appends already closed it."""
        if self._fd is not None:
            os.fsync(self._fd)
            return
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Close the append descriptor; the in-memory entries stay usable for lookups."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def delete(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class OffsetIndex(_IndexFile):
    """Maps the base offset of every ~index.interval.bytes-th batch to its byte position."""

    entry_size = 8
    _ENTRY = struct.Struct(">II")

    def __init__(self, path: Path, base_offset: int) -> None:
        super().__init__(path, base_offset)
        self._offsets = array("I")  # relative offsets
        self._positions = array("I")

    def __len__(self) -> int:
        return len(self._offsets)

    def load(self, log_size: int, next_offset: int | None) -> bool:
        """Read the file; False (and no entries) if missing or inconsistent with the log."""
        self._offsets, self._positions = array("I"), array("I")
        data = self._read_entries_bytes()
        if data is None:
            return False
        flat = array("I")
        flat.frombytes(data)
        if _NEEDS_SWAP:
            flat.byteswap()
        offsets, positions = flat[0::2], flat[1::2]
        if offsets:
            limit = None if next_offset is None else next_offset - self.base_offset
            if (limit is not None and offsets[-1] >= limit) or positions[-1] >= log_size:
                return False
            if not _strictly_increasing(offsets) or not _strictly_increasing(positions):
                return False
        self._offsets, self._positions = offsets, positions
        return True

    def reset(self) -> None:
        """Empty the file and the entries (a new segment, or before a rebuild)."""
        self._empty_file()
        self._offsets, self._positions = array("I"), array("I")

    def lookup(self, offset: int) -> int:
        """Position of the last indexed batch whose base offset is <= `offset` (0 if none)."""
        i = bisect_right(self._offsets, offset - self.base_offset) - 1
        return self._positions[i] if i >= 0 else 0

    def floor_entry(self, position: int) -> tuple[int | None, int]:
        """(absolute offset, position) of the last entry at or before byte `position`;
        (None, 0) when there is none."""
        i = bisect_right(self._positions, position) - 1
        if i < 0:
            return None, 0
        return self.base_offset + self._offsets[i], self._positions[i]

    def last_entry(self) -> tuple[int, int] | None:
        """(absolute offset, position) of the last entry."""
        if not self._offsets:
            return None
        return self.base_offset + self._offsets[-1], self._positions[-1]

    def append(self, entries: list[tuple[int, int]]) -> None:
        """Write (relative offset, position) entries with one os.write, then mirror them."""
        if not entries:
            return
        pack = self._ENTRY.pack
        self._write_entries(b"".join([pack(o, p) for o, p in entries]), len(self._offsets))
        for o, p in entries:  # the looked-up array last: a reader thread never sees half an entry
            self._positions.append(p)
            self._offsets.append(o)

    def truncate_entries(self, count: int) -> None:
        """Keep the first `count` entries (undo of a failed append)."""
        self._truncate_file(count)
        del self._offsets[count:]
        del self._positions[count:]


class TimeIndex(_IndexFile):
    """Maps strictly increasing max timestamps to the relative offset of the batch reaching them."""

    entry_size = 12
    _ENTRY = struct.Struct(">qI")

    def __init__(self, path: Path, base_offset: int) -> None:
        super().__init__(path, base_offset)
        self._timestamps = array("q")
        self._offsets = array("I")

    def __len__(self) -> int:
        return len(self._offsets)

    @property
    def last_timestamp(self) -> int:
        """The largest timestamp indexed, -1 when empty."""
        return self._timestamps[-1] if self._timestamps else -1

    def last_offset(self) -> int | None:
        """Absolute offset of the last entry."""
        return self.base_offset + self._offsets[-1] if self._offsets else None

    def load(self, next_offset: int | None) -> bool:
        """Read the file; False (and no entries) if missing or inconsistent."""
        self._timestamps, self._offsets = array("q"), array("I")
        data = self._read_entries_bytes()
        if data is None:
            return False
        count = len(data) // self.entry_size
        flat = struct.unpack(">" + "qI" * count, data) if count else ()
        timestamps, offsets = array("q", flat[0::2]), array("I", flat[1::2])
        if offsets:
            limit = None if next_offset is None else next_offset - self.base_offset
            if limit is not None and offsets[-1] >= limit:
                return False
            if not _strictly_increasing(offsets) or not _strictly_increasing(timestamps):
                return False
        self._timestamps, self._offsets = timestamps, offsets
        return True

    def reset(self) -> None:
        self._empty_file()
        self._timestamps, self._offsets = array("q"), array("I")

    def lookup(self, timestamp: int) -> int:
        """An offset at or before the first batch with maxTimestamp >= `timestamp`.

        That is the offset of the last entry whose timestamp is < `timestamp` (every batch up
        to it is older), or the segment base offset when there is none.
        """
        i = bisect_left(self._timestamps, timestamp) - 1
        return self.base_offset + (self._offsets[i] if i >= 0 else 0)

    def append(self, entries: list[tuple[int, int]]) -> None:
        """Write (timestamp, relative offset) entries with one os.write, then mirror them."""
        if not entries:
            return
        pack = self._ENTRY.pack
        self._write_entries(b"".join([pack(t, o) for t, o in entries]), len(self._offsets))
        for t, o in entries:  # the looked-up array last: a reader thread never sees half an entry
            self._offsets.append(o)
            self._timestamps.append(t)

    def truncate_entries(self, count: int) -> None:
        self._truncate_file(count)
        del self._timestamps[count:]
        del self._offsets[count:]


def _strictly_increasing(values: array[int]) -> bool:
    return all(a < b for a, b in pairwise(values))
