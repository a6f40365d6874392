"""Subprocesses for tests: started with their output in a log file, ready on a line or a port,
stopped with a signal (SIGKILL if they do not exit in time), their logs shown when a test fails.

Every `ManagedProcess` started is noted in `STARTED`; tests/conftest.py attaches the log tails of
those a failing test started to its report. A process that exits or does not get ready in time
fails the start with its log in the message, after being stopped.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.kit.waiting import wait_until

#: `python -m headwater`, with this interpreter (the venv the tests run in).
HEADWATER = [sys.executable, "-m", "headwater"]
#: How much of each log a failing test's report shows.
LOG_TAIL_CHARS = 4000

STARTED: list[ManagedProcess] = []


@dataclass
class ManagedProcess:
    """One subprocess whose stdout and stderr go to `log_path` (appended across restarts)."""

    cmd: list[str]
    log_path: Path
    name: str = "process"
    env: Mapping[str, str] | None = None
    stop_timeout_s: float = 20.0
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(
        self,
        ready_line: str | None = None,
        ready_port: tuple[str, int] | None = None,
        deadline_s: float = 60.0,
    ) -> ManagedProcess:
        """Start, then wait for `ready_port` to listen and `ready_line` in the log (if given)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        skip = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd
            )
        STARTED.append(self)
        try:
            if ready_port is not None:
                self.wait_for_port(*ready_port, deadline_s=deadline_s)
            if ready_line is not None:
                self.wait_for_log(ready_line, deadline_s, after=skip)
        except (TimeoutError, AssertionError):
            self.stop()
            raise RuntimeError(f"{self.name} did not start:\n{self.log_text()}") from None
        return self

    def log_text(self, after: int = 0) -> str:
        """What it logged (from byte `after`: a restart appends to the same file)."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[after:].decode(errors="replace")

    def wait_for_log(self, text: str, deadline_s: float = 30.0, after: int = 0) -> None:
        """Until `text` is in the log (from byte `after`); fails early if the process exits."""

        def logged() -> bool:
            if text in self.log_text(after):
                return True
            self._fail_if_exited()
            return False

        try:
            wait_until(logged, deadline_s, f"{text!r} in the {self.name} log", interval_s=0.02)
        except AssertionError as exc:
            if "timed out" not in str(exc):
                raise
            raise AssertionError(f"{exc}; log:\n{self.log_text()}") from None

    def wait_for_port(self, host: str, port: int, deadline_s: float = 30.0) -> None:
        """Until `host:port` accepts a connection; fails early if the process exits."""

        def listening() -> bool:
            self._fail_if_exited()
            return is_listening(host, port)

        wait_until(listening, deadline_s, f"{self.name} to listen on {host}:{port}")

    def _fail_if_exited(self) -> None:
        if not self.alive():
            raise AssertionError(f"{self.name} exited ({self.returncode}):\n{self.log_text()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def wait(self, timeout_s: float) -> int:
        """Until it exits by itself; subprocess.TimeoutExpired after `timeout_s`."""
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.wait(timeout_s)

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float | None = None) -> int | None:
        """Send `sig` and wait; SIGKILL if still running after the timeout. The exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(self.stop_timeout_s if timeout_s is None else timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9: no chance to flush or close anything."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def is_listening(host: str, port: int) -> bool:
    """Whether `host:port` accepts a TCP connection now."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def log_file(directory: Path, name: str) -> Path:
    """A new log file name in `directory` (several processes may share one directory)."""
    return directory / f"{name}-{uuid.uuid4().hex[:8]}.log"


def headwater_process(directory: Path, *args: str, name: str | None = None) -> ManagedProcess:
    """`python -m headwater ARGS` (not started), logging to a new file in `directory`."""
    name = name or (args[0] if args else "headwater")
    return ManagedProcess([*HEADWATER, *args], log_file(directory, name), name=name)


def start_headwater(
    directory: Path,
    *args: str,
    ready_line: str | None = None,
    ready_port: tuple[str, int] | None = None,
    name: str | None = None,
    deadline_s: float = 60.0,
) -> ManagedProcess:
    """Start `python -m headwater ARGS` and wait until it is ready (see ManagedProcess.start)."""
    process = headwater_process(directory, *args, name=name)
    return process.start(ready_line, ready_port, deadline_s)


def run_headwater(
    *args: str,
    timeout_s: float = 120.0,
    text: bool = True,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
) -> subprocess.CompletedProcess[Any]:
    """Run `python -m headwater ARGS` to completion, capturing stdout and stderr."""
    return subprocess.run(
        [*HEADWATER, *args],
        capture_output=True,
        text=text,
        timeout=timeout_s,
        cwd=cwd,
        env=env,
        input=input,
        check=False,
    )


def log_tails(processes: Sequence[ManagedProcess]) -> str:
    """The end of each process's log, headed by its command: for a failing test's report."""
    parts = []
    last_per_log = {p.log_path: p for p in processes}  # a restarted process appends to its log
    for p in last_per_log.values():
        text = p.log_text()
        cut = "…" if len(text) > LOG_TAIL_CHARS else ""
        parts.append(
            f"== {p.name} (exit {p.returncode}) {' '.join(p.cmd)}\n{cut}{text[-LOG_TAIL_CHARS:]}"
        )
    return "\n".join(parts)
