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
from tests.kit.kafka import KafkaCluster, KafkaKind
from tests.kit.kafka_pool import KAFKA_PARAMS, KafkaClusterPool, group_by_kind, kind_of, last_items
from tests.kit.ports import free_port, wait_for_port
from tests.kit.services import BrokerProcess

__all__ = ["BrokerProcess", "free_port", "wait_for_port"]  # the tests import them from here

_FIRST_PROCESS = pytest.StashKey[int]()
_KAFKA_POOL = pytest.StashKey[KafkaClusterPool]()
_LAST_OF_KIND = pytest.StashKey[dict[KafkaKind, pytest.Item]]()


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
def kafka_clusters(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KafkaClusterPool]:
    """The session's Kafka clusters, one per kind, each started on first use (~15 s)."""
    pool = KafkaClusterPool(lambda name: tmp_path_factory.mktemp(name))
    request.config.stash[_KAFKA_POOL] = pool
    yield pool
    pool.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that asks for a Kafka cluster runs on each kind (session-scoped parameters:
    pytest runs one kind's tests together)."""
    if "kafka_kind" in metafunc.fixturenames:
        metafunc.parametrize("kafka_kind", KAFKA_PARAMS, indirect=True, scope="session")


@pytest.fixture(scope="session")
def kafka_kind(request: pytest.FixtureRequest) -> KafkaKind:
    """The kind of Kafka cluster a test runs on. A test that asks for `kafka_cluster` only at run
    time (`request.getfixturevalue`) has no such parameter and gets the KRaft cluster; one that
    chooses the kind at run time uses `kafka_cluster_of(kind)`."""
    return KafkaKind(getattr(request, "param", KafkaKind.KRAFT))


@pytest.fixture(scope="session")
def kafka_cluster_once(kafka_kind: KafkaKind, kafka_clusters: KafkaClusterPool) -> KafkaCluster:
    """The session's Kafka cluster of each kind, as it is (nodes a test killed stay dead)."""
    return kafka_clusters.get(kafka_kind)


@pytest.fixture
def kafka_cluster_of(kafka_clusters: KafkaClusterPool) -> Callable[[KafkaKind], KafkaCluster]:
    """The session's cluster of a kind chosen at run time (a `bootstrap` parameter), healed as
    `kafka_cluster` is."""

    def healed(kind: KafkaKind) -> KafkaCluster:
        cluster = kafka_clusters.get(kind)
        cluster.heal()
        processes.STARTED.extend(cluster.processes())  # noted as this test's processes
        return cluster

    return healed


@pytest.fixture
def kafka_cluster(
    kafka_kind: KafkaKind, kafka_cluster_of: Callable[[KafkaKind], KafkaCluster]
) -> KafkaCluster:
    """The session's Kafka cluster of each kind (KRaft, ZooKeeper), all three brokers up (a test
    that killed or paused one is healed first); its nodes' logs are shown when the test fails."""
    return kafka_cluster_of(kafka_kind)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One Kafka cluster kind's tests together (after pytest's own ordering by fixtures)."""
    items[:] = group_by_kind(items)


def pytest_itemcollected(item: pytest.Item) -> None:
    """Under `pytest -n N --dist loadgroup` (`make test`) every Kafka test goes to one worker, so
    one cluster at a time serves them while the other workers run the rest. (Marked here, as each
    item is collected: xdist reads the group in its own collection hook, before trylast ones.)"""
    if item.get_closest_marker("kafka") is not None:
        item.add_marker(pytest.mark.xdist_group("kafka"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    """Stop a kind's cluster after its last test: the suite goes on without its JVMs."""
    yield
    pool = item.config.stash.get(_KAFKA_POOL, None)
    kind = kind_of(item)
    if pool is None or kind is None:
        return
    if _LAST_OF_KIND not in item.config.stash:
        item.config.stash[_LAST_OF_KIND] = last_items(item.session.items)
    if item.config.stash[_LAST_OF_KIND].get(kind) is item:
        pool.stop(kind)


os.environ.setdefault("PYTHONUNBUFFERED", "1")
