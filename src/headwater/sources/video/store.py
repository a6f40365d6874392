"""The lake's object area for video: segment and frame files, local or S3-compatible.

Layout: `<root>/<stream>/<date>/<media sequence>.ts|m4s`, fMP4 initialisation sections beside
them as `<media sequence>.init.mp4` (the first segment that used them), sampled frames as
`<root>/<stream>/<date>/frames/<media sequence>-<n>.jpg|png|npy`. `<date>` is the UTC date of
the segment's program date-time, or of its fetch when the playlist has none. After the origin
restarted its numbering (epoch 1, 2, …) the sequence part is `e<epoch>-<media sequence>`, so a
new epoch's segment 0 never replaces the first one's.

Writes are whole-object: S3 puts are atomic; on a local disk we write a temporary file and
rename it, so a crash never leaves a partial segment under its final name. Writing the same
sequence again (after a restart before the position was stored) replaces the object with the
same bytes. Blocking: call from a thread (`asyncio.to_thread`).

On a local disk a follower holds `<root>/<stream>/.lock` (`lock_streams`) for its run, so a second
`headwater video` following the same stream into the same directory refuses to start instead of
storing and publishing every segment twice.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import date

import pyarrow.fs as pafs  # type: ignore[import-untyped]

from headwater.dirlock import DirectoryLock

_STREAM_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")


def check_stream_name(name: str) -> str:
    """Stream names become path parts and record keys: a safe character set only."""
    if not _STREAM_NAME.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"stream name {name!r}: 1-128 of ASCII letters, digits, '.', '_', '-'")
    return name


class ObjectStore:
    """Whole-object writes under a root: a local directory or `s3://bucket/prefix`.

    S3-compatible stores take pyarrow's URI options, e.g.
    `s3://lake/video?endpoint_override=minio:9000&scheme=http`; credentials come from the usual
    AWS environment variables or profile. The bucket must exist."""

    def __init__(self, root: str) -> None:
        if "://" in root:
            self.fs, base = pafs.FileSystem.from_uri(root)
            self._local = isinstance(self.fs, pafs.LocalFileSystem)
        else:
            self.fs, base, self._local = pafs.LocalFileSystem(), os.path.abspath(root), True
        # `s3://bucket/prefix?endpoint_override=…` configures the filesystem; paths omit the query.
        self.root = root.split("?", 1)[0].rstrip("/")
        self._base = base.rstrip("/")
        self._made: set[str] = set()

    def put(self, relpath: str, data: bytes) -> str:
        """Write `data` at `relpath` under the root; returns the object's full path."""
        path = f"{self._base}/{relpath}"
        parent = path.rsplit("/", 1)[0]
        if parent not in self._made:
            self.fs.create_dir(parent, recursive=True)
            self._made.add(parent)
        if self._local:
            tmp = f"{parent}/.{uuid.uuid4().hex}.tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        else:
            with self.fs.open_output_stream(path) as out:
                out.write(data)
        return self.url(relpath)

    def lock_streams(self, streams: list[str]) -> list[DirectoryLock]:
        """Lock each stream's directory (local stores only; all or none, DirectoryInUseError)."""
        locks: list[DirectoryLock] = []
        try:
            for stream in streams if self._local else []:
                locks.append(DirectoryLock(f"{self._base}/{check_stream_name(stream)}").acquire())
        except BaseException:
            for lock in locks:
                lock.release()
            raise
        return locks

    def get(self, relpath: str) -> bytes:
        with self.fs.open_input_stream(f"{self._base}/{relpath}") as f:
            return bytes(f.read())

    def url(self, relpath: str) -> str:
        return f"{self.root}/{relpath}"


def _numbered(sequence: int, epoch: int) -> str:
    return f"e{epoch}-{sequence}" if epoch else str(sequence)


def segment_path(stream: str, day: date, sequence: int, ext: str, epoch: int = 0) -> str:
    return f"{stream}/{day.isoformat()}/{_numbered(sequence, epoch)}.{ext}"


def init_path(stream: str, day: date, sequence: int, epoch: int = 0) -> str:
    return f"{stream}/{day.isoformat()}/{_numbered(sequence, epoch)}.init.mp4"


def frame_path(stream: str, day: date, sequence: int, index: int, ext: str, epoch: int = 0) -> str:
    return f"{stream}/{day.isoformat()}/frames/{_numbered(sequence, epoch)}-{index}.{ext}"
