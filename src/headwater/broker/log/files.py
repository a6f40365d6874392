"""File names and the few raw file operations storage needs (all through `os`, never buffered I/O).

Names follow Kafka: `<20-digit zero-padded base offset>.log`, `.index`, `.timeindex`, `.snapshot`.
Small metadata files are replaced atomically: write a temporary file, fsync it, rename it over the
old one, fsync the directory. A crash leaves either the old or the new file, plus maybe a stray
`*.tmp` that the next open deletes.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
SNAPSHOT_SUFFIX = ".snapshot"
TMP_SUFFIX = ".tmp"
CLEANED_SUFFIX = ".log.cleaned"  # the log cleaner's output while it is being written
SWAP_SUFFIX = ".log.swap"  # cleaned output committed to replace segments (see loader)


def offset_file_name(offset: int, suffix: str) -> str:
    """`00000000000000000042.log` for offset 42."""
    return f"{offset:020d}{suffix}"


def parse_offset_file_name(name: str, suffix: str) -> int | None:
    """The offset a Kafka-style file name encodes, or None if the name is not one."""
    if not name.endswith(suffix):
        return None
    stem = name[: -len(suffix)]
    if len(stem) != 20 or not stem.isdigit():
        return None
    return int(stem)


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """os.write until every byte is written (regular files may accept less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_dir(path: Path) -> None:
    """Make a created, renamed or deleted directory entry durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data` so that a crash leaves the old or the new content, never a mix."""
    tmp = path.with_name(path.name + TMP_SUFFIX)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data)
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    if durable:
        fsync_dir(path.parent)


def read_file(path: Path) -> bytes | None:
    """The whole content of a small file, or None if it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        size = os.fstat(fd).st_size
        return os.pread(fd, size, 0) if size else b""
    finally:
        os.close(fd)
