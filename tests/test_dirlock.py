"""DirectoryLock: one holder per directory, across processes and within one, released by the
kernel when the holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headwater.dirlock import LOCK_FILE, DirectoryInUseError, DirectoryLock

HOLDER = """
import sys
from headwater.dirlock import DirectoryLock
lock = DirectoryLock(sys.argv[1]).acquire()
print("locked", flush=True)
sys.stdin.read()  # hold until our stdin closes or we are killed
"""


def start_holder(directory: Path) -> subprocess.Popen[str]:
    """A separate process holding the lock; returns once it says it holds it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_creates_the_directory_and_writes_our_pid(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "dir"
    with DirectoryLock(directory) as lock:
        assert lock.held
        assert (directory / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    assert not lock.held


def test_second_lock_in_the_same_process_is_refused(tmp_path: Path) -> None:
    with DirectoryLock(tmp_path), pytest.raises(DirectoryInUseError) as info:
        DirectoryLock(tmp_path).acquire()
    assert info.value.directory == tmp_path
    assert info.value.holder_pid == os.getpid()


def test_lock_held_by_another_process_names_the_directory_and_its_pid(tmp_path: Path) -> None:
    holder = start_holder(tmp_path)
    try:
        with pytest.raises(DirectoryInUseError) as info:
            DirectoryLock(tmp_path).acquire()
        assert info.value.holder_pid == holder.pid
        message = str(info.value)
        assert str(tmp_path) in message
        assert f"process {holder.pid}" in message
        assert info.value.exit_code == 69 and info.value.hint  # what the CLI boundary prints
        assert (tmp_path / LOCK_FILE).read_text() == f"{holder.pid}\n"  # the loser wrote nothing
    finally:
        holder.communicate("")


def test_lock_is_free_after_the_holder_exits(tmp_path: Path) -> None:
    holder = start_holder(tmp_path)
    holder.communicate("")
    assert holder.returncode == 0
    with DirectoryLock(tmp_path) as lock:
        assert lock.held


def test_lock_is_free_after_the_holder_is_killed(tmp_path: Path) -> None:
    holder = start_holder(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.communicate()  # waits, and closes our ends of its pipes
    assert (tmp_path / LOCK_FILE).read_text() == f"{holder.pid}\n"  # stale pid, no lock
    with DirectoryLock(tmp_path) as lock:
        assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        assert lock.held


def test_release_is_idempotent_and_the_lock_can_be_taken_again(tmp_path: Path) -> None:
    lock = DirectoryLock(tmp_path)
    lock.acquire()
    lock.release()
    lock.release()
    assert lock.acquire() is lock
    assert lock.acquire() is lock  # acquiring a held lock again is a no-op
    lock.release()
    assert (tmp_path / LOCK_FILE).exists()  # never deleted: see the module docstring


def test_lock_without_a_readable_pid_still_refuses(tmp_path: Path) -> None:
    with DirectoryLock(tmp_path):
        (tmp_path / LOCK_FILE).write_text("")
        with pytest.raises(DirectoryInUseError, match="another process") as info:
            DirectoryLock(tmp_path).acquire()
        assert info.value.holder_pid is None


def test_lock_is_not_inherited_by_child_processes(tmp_path: Path) -> None:
    with DirectoryLock(tmp_path):
        child = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.read()"],
            stdin=subprocess.PIPE,
            text=True,
            close_fds=False,  # even then the lock's descriptor (O_CLOEXEC) is not passed on
        )
    try:
        # The kernel may drop our closed descriptor's file a moment after the child's exec
        # returns; an inherited descriptor would keep the lock for as long as the child lives.
        deadline = time.monotonic() + 10
        lock = DirectoryLock(tmp_path)
        while not lock.held:
            try:
                lock.acquire()
            except DirectoryInUseError:
                assert time.monotonic() < deadline, "the child process holds our lock"
                time.sleep(0.01)  # polling interval of a condition wait
        lock.release()
    finally:
        child.communicate("")
