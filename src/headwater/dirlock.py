"""One process owns a directory: a `.lock` file held with an exclusive flock, as Kafka locks
each log dir.

File: `<directory>/.lock`, holding the owner's pid as decimal text and a newline (informational:
the flock is the lock, the pid only names the holder in the error). The file is never deleted:
removing it while another process waits on it would let two processes each lock a different
inode. Crash behaviour: the kernel drops a flock when its descriptor closes, so a process killed
with -9 leaves the file (with its stale pid) but not the lock; the next owner takes it at once.

flock is per open file description: two `DirectoryLock`s on one directory in the same process
also exclude each other. It is advisory (only processes that ask are stopped) and does not work
across hosts on network file systems; a directory is owned by processes of one machine.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from types import TracebackType

LOCK_FILE = ".lock"


class DirectoryInUseError(Exception):
    """Another process holds the directory's lock: a retry helps only once that process is gone.

    `holder_pid` is None when the lock file names no pid. `cause`, `hint` and `exit_code` (69,
    EX_UNAVAILABLE: a resource is taken) are what the CLI's error boundary prints and exits with.
    """

    exit_code = 69
    hint = "stop that process, or give this one another directory"

    def __init__(self, directory: Path, holder_pid: int | None) -> None:
        self.directory = directory
        self.holder_pid = holder_pid
        holder = f"process {holder_pid}" if holder_pid is not None else "another process"
        self.cause = f"{directory} is in use by {holder} (lock file {directory / LOCK_FILE})"
        super().__init__(f"{self.cause}; {self.hint}")


class DirectoryLock:
    """An exclusive, non-blocking lock on `directory` for as long as it is held.

    `acquire()` creates the directory if needed and raises DirectoryInUseError at once when
    another holder has it (never waits), or OSError when the file cannot be opened. Use it as a
    context manager, or call `acquire`/`release` around the owner's lifetime.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> DirectoryLock:
        if self._fd is not None:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DirectoryInUseError(self.directory, holder) from None
            raise
        try:  # the pid is for people reading the error; failing to write it is not fatal
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (the file stays, see the module docstring). Idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> DirectoryLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"DirectoryLock({str(self.directory)!r}, held={self.held})"


def _read_pid(fd: int) -> int | None:
    """The pid the holder wrote, or None (empty, being rewritten, or not a number)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
