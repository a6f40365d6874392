"""Fixtures that start real headwater processes on free ports with private data dirs.

The machinery is the test kit (tests/kit/); the names below stay importable from here for the
tests that import them (`from tests.conftest import BrokerProcess, free_port, wait_for_port`).
A failing test's report shows the end of the log of every process it started.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest

from tests.kit import processes
from tests.kit.kafka import KafkaCluster, kafka_libs
from tests.kit.ports import free_port, wait_for_port
from tests.kit.services import BrokerProcess

__all__ = ["BrokerProcess", "free_port", "wait_for_port"]  # the tests import them from here

_FIRST_PROCESS = pytest.StashKey[int]()


@pytest.fixture(autouse=True)
def _note_processes_started(request: pytest.FixtureRequest) -> None:
    """Remember where this test's processes begin in the kit's list (after session fixtures')."""
    request.node.stash[_FIRST_PROCESS] = len(processes.STARTED)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the log tails of the processes a failing test started to its report."""
    report = yield
    if report.failed and _FIRST_PROCESS in item.stash:
        started = processes.STARTED[item.stash[_FIRST_PROCESS] :]
        if started:
            report.sections.append(("headwater process logs", processes.log_tails(started)))
    if report.when == "teardown" and _FIRST_PROCESS in item.stash:
        del processes.STARTED[item.stash[_FIRST_PROCESS] :]  # done with: keep the list short
    return report


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., BrokerProcess]]:
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
def broker(broker_factory: Callable[..., BrokerProcess]) -> BrokerProcess:
    """One running embedded broker on a free port with a private data dir."""
    return broker_factory()


@pytest.fixture(scope="session")
def kafka_cluster_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """One 3-node Apache Kafka cluster for the whole session (it takes ~15 s to start).

    Skips where setup has not fetched Kafka's jars, except in CI, where that is a setup bug.
    """
    libs = kafka_libs()
    if libs is None:
        message = "Apache Kafka's jars are not fetched: run scripts/fetch-kafka.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    cluster = KafkaCluster(tmp_path_factory.mktemp("kafka-cluster"), libs).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def kafka_cluster(kafka_cluster_once: KafkaCluster) -> KafkaCluster:
    """The session's Kafka cluster, all three nodes up (a test that killed or paused one is
    healed first); its nodes' logs are shown when the test fails."""
    kafka_cluster_once.heal()
    processes.STARTED.extend(kafka_cluster_once.processes())  # noted as this test's processes
    return kafka_cluster_once


os.environ.setdefault("PYTHONUNBUFFERED", "1")
