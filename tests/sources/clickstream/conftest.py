"""A `headwater collect` subprocess on a free port, pointed at the test broker."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kit.ports import free_port
from tests.kit.processes import ManagedProcess, headwater_process
from tests.kit.services import COMPONENT_BROKERS, BrokerProcess
from tests.kit.services import broker_url as component_broker_url


@dataclass
class CollectorProcess:
    """A running collector: its address and the process (log, stop)."""

    process: ManagedProcess
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        """The subprocess itself, for tests that look at it directly."""
        return self.process.proc

    def log_text(self) -> str:
        return self.process.log_text()

    def stop(self) -> int | None:
        return self.process.stop()


def start_collector(
    broker: BrokerProcess | str, tmp: Path, *args: str, port: int | None = None
) -> CollectorProcess:
    """A `headwater collect` process on `port` (a free one by default; collectors can share one),
    producing to `broker` (a broker process, or a `--broker` value).

    Ready once the port listens and this process logged `collector_started` (the port may be
    another collector's, shared).
    """
    port = port or free_port()
    address = broker if isinstance(broker, str) else broker.bootstrap
    process = headwater_process(
        tmp, "collect", "--listen", f"127.0.0.1:{port}", "--broker", address,
        "--write-key", "testkey=web-test", *args, name="collector",
    )  # fmt: skip
    process.start(ready_port=("127.0.0.1", port), ready_line="collector_started")
    return CollectorProcess(process, port)


@pytest.fixture(params=COMPONENT_BROKERS)
def broker_url(request: pytest.FixtureRequest) -> str:
    """The end-to-end tests' broker: an embedded one, and the Kafka cluster."""
    return component_broker_url(request)


@pytest.fixture
def collector(broker: BrokerProcess, tmp_path: Path) -> Iterator[CollectorProcess]:
    c = start_collector(broker, tmp_path)
    yield c
    c.stop()
