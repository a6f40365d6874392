"""`headwater cdc` as a subprocess, and reading what it produced back from the broker."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from headwater import transport


@dataclass
class CdcProcess:
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, deadline_s: float = 30.0) -> None:
        end = time.monotonic() + deadline_s
        while text not in self.log_text():
            if self.proc.poll() is not None:
                raise AssertionError(f"cdc exited ({self.proc.returncode}):\n{self.log_text()}")
            if time.monotonic() > end:
                raise AssertionError(f"no {text!r} in the cdc log:\n{self.log_text()}")
            time.sleep(0.02)

    def kill(self) -> None:
        """kill -9: no flush, no final position, no goodbye to the database."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def start_cdc(tmp: Path, url: str, broker: str, *args: str, ready: str | None) -> CdcProcess:
    """Start `headwater cdc URL --broker B ARGS`; wait for `ready` in its log when given."""
    log_path = tmp / f"cdc-{uuid.uuid4().hex[:8]}.log"
    cmd = [sys.executable, "-m", "headwater", "cdc", url, "--broker", broker, *args]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    cdc = CdcProcess(proc, log_path)
    if ready is not None:
        cdc.wait_for_log(ready)
    return cdc


def run_cdc(
    url: str, broker: str, *args: str, timeout_s: float = 60
) -> subprocess.CompletedProcess:
    """Run `headwater cdc` to completion (for start-up failures)."""
    cmd = [sys.executable, "-m", "headwater", "cdc", url, "--broker", broker, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)


@dataclass
class Change:
    key: Any
    value: Any  # the envelope; None for a tombstone
    offset: int


def read_changes(
    bootstrap: str,
    topic: str,
    until: Callable[[list[Change]], bool],
    deadline_s: float = 30.0,
) -> list[Change]:
    """Every record of `topic` (one partition) from the start, until `until(records)` holds."""
    conn = transport.connect(bootstrap)
    changes: list[Change] = []
    try:
        with conn.consumer(f"test-{uuid.uuid4().hex}") as consumer:
            consumer.assign([transport.TopicPartition(topic, 0, transport.EARLIEST)])
            end = time.monotonic() + deadline_s
            while not until(changes):
                if time.monotonic() > end:
                    raise AssertionError(
                        f"{topic}: condition not met after {deadline_s}s; "
                        f"got {len(changes)} records: {[c.value for c in changes[-5:]]}"
                    )
                for r in consumer.consume(5000, 0.2):
                    changes.append(
                        Change(
                            orjson.loads(r.key) if r.key else None,
                            orjson.loads(r.value) if r.value is not None else None,
                            r.offset,
                        )
                    )
    finally:
        conn.close()
    return changes


def count_at_least(n: int) -> Callable[[list[Change]], bool]:
    return lambda changes: len(changes) >= n


def stored_position(bootstrap: str, source: str) -> dict[str, Any] | None:
    from headwater.sources import positions

    conn = transport.connect(bootstrap)
    try:
        return positions.load_cdc(conn, source)
    finally:
        conn.close()
