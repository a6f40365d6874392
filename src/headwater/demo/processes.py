"""The demo's services as the separate processes a user would run, each with its own log file.

`Processes` starts `headwater <command>` subprocesses (and ffmpeg), and stops every one it started
on exit, in reverse order: SIGTERM first (each service commits or flushes what it holds), SIGKILL
only for one that does not exit in time. Nothing is left running, whatever happened.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from headwater.local.ports import wait_for_port


class ServiceFailed(RuntimeError):
    """A service exited or never listened: the message names it and ends with its log."""


class Service:
    """One running subprocess and its log."""

    def __init__(self, name: str, cmd: list[str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def check(self) -> None:
        """Raise `ServiceFailed` when the process has exited."""
        if not self.alive():
            raise ServiceFailed(
                f"{self.name} exited with status {self.proc.returncode}:\n{self.log_tail()}"
            )

    def wait_listening(self, port: int, timeout_s: float = 30.0) -> None:
        end = time.monotonic() + timeout_s
        while True:
            self.check()
            try:
                wait_for_port("127.0.0.1", port, 0.5)
                return
            except TimeoutError:
                if time.monotonic() > end:
                    raise ServiceFailed(
                        f"{self.name} did not listen on 127.0.0.1:{port}:\n{self.log_tail()}"
                    ) from None

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, then SIGKILL after `timeout_s`; returns the exit status."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


class Processes:
    """A context manager of services, stopped in reverse order of start."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.services: list[Service] = []

    def headwater(self, name: str, *args: str) -> Service:
        """`headwater <args>` with this interpreter; its log is `<log_dir>/<name>.log`."""
        return self.start(name, [sys.executable, "-m", "headwater", *args])

    def start(self, name: str, cmd: list[str]) -> Service:
        service = Service(name, cmd, self.log_dir / f"{name}.log")
        self.services.append(service)
        return service

    def check(self) -> None:
        for service in self.services:
            service.check()

    def stop(self, service: Service, timeout_s: float = 30.0) -> int:
        status = service.stop(timeout_s)
        if service in self.services:
            self.services.remove(service)
        return status

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        while self.services:
            self.services.pop().stop()
