"""Fixtures that start real headwater processes on free ports with private data dirs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from headwater.local.ports import free_port, wait_for_port

__all__ = ["BrokerProcess", "free_port", "wait_for_port"]  # the tests import them from here


@dataclass
class BrokerProcess:
    """A `headwater broker` subprocess; restartable on the same port and data dir."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> BrokerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"broker-{self.port}.log"
        cmd = [
            sys.executable,
            "-m",
            "headwater",
            "broker",
            "--listen",
            self.bootstrap,
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.host, self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"broker did not start; log:\n{self.log_text()}") from None
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9: no chance to flush or close anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def restart(self) -> BrokerProcess:
        self.stop()
        return self.start()


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[callable]:
    """Start brokers with extra CLI args; all are stopped at teardown."""
    started: list[BrokerProcess] = []

    def make(*extra_args: str, data_dir: Path | None = None) -> BrokerProcess:
        b = BrokerProcess(
            data_dir=data_dir or tmp_path / f"broker{len(started)}", extra_args=list(extra_args)
        )
        started.append(b.start())
        return b

    yield make
    for b in started:
        b.stop()


@pytest.fixture
def broker(broker_factory) -> BrokerProcess:
    """One running embedded broker on a free port with a private data dir."""
    return broker_factory()


os.environ.setdefault("PYTHONUNBUFFERED", "1")
