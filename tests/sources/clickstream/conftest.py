"""A `headwater collect` subprocess on a free port, pointed at the test broker."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BrokerProcess, free_port, wait_for_port


@dataclass
class CollectorProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def start_collector(
    broker: BrokerProcess, tmp: Path, *args: str, port: int | None = None
) -> CollectorProcess:
    """A `headwater collect` process on `port` (a free one by default; collectors can share one)."""
    port = port or free_port()
    log_path = tmp / f"collector-{port}-{time.monotonic_ns()}.log"
    cmd = [
        sys.executable,
        "-m",
        "headwater",
        "collect",
        "--listen",
        f"127.0.0.1:{port}",
        "--broker",
        broker.bootstrap,
        "--write-key",
        "testkey=web-test",
        *args,
    ]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    collector = CollectorProcess(proc, port, log_path)
    try:
        wait_for_port("127.0.0.1", port)
        _wait_until_started(collector)
    except TimeoutError:
        collector.stop()
        raise RuntimeError(f"collector did not start:\n{collector.log_text()}") from None
    return collector


def _wait_until_started(collector: CollectorProcess, deadline_s: float = 60.0) -> None:
    """Until this process logged `collector_started` (its port may be another's, shared)."""
    end = time.monotonic() + deadline_s
    while "collector_started" not in collector.log_text():
        if collector.proc.poll() is not None or time.monotonic() > end:
            raise TimeoutError
        time.sleep(0.05)


@pytest.fixture
def collector(broker: BrokerProcess, tmp_path: Path) -> Iterator[CollectorProcess]:
    c = start_collector(broker, tmp_path)
    yield c
    c.stop()
