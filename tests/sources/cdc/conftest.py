"""Session-wide private PostgreSQL and MariaDB servers; a fresh database per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.kit.databases import remove_pg_template
from tests.kit.services import COMPONENT_BROKERS, BrokerProcess
from tests.kit.services import broker_url as component_broker_url
from tests.sources.cdc.databases import CDC_PASSWORD, CDC_USER, MariaDbServer, PostgresServer

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One embedded broker for every CDC test: each test uses its own source name and topics."""
    process = BrokerProcess(data_dir=tmp_path_factory.mktemp("cdc-broker") / "data").start()
    yield process
    process.stop()


@pytest.fixture(params=COMPONENT_BROKERS)
def broker_url(request: pytest.FixtureRequest) -> str:
    """The end-to-end tests' broker: the embedded one above, and the Kafka cluster."""
    return component_broker_url(request)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """PostgreSQL 15 with wal_level=logical and a REPLICATION role `cdc`."""
    server = PostgresServer().start()
    server.execute(
        f"CREATE ROLE {CDC_USER} LOGIN REPLICATION PASSWORD '{CDC_PASSWORD}'", db="postgres"
    )
    yield server
    server.remove()
    remove_pg_template()


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDbServer]:
    """MariaDB with a ROW/FULL/FULL binlog and a user `cdc` with replication privileges."""
    server = MariaDbServer().start()
    server.execute(
        f"CREATE USER '{CDC_USER}'@'%' IDENTIFIED BY '{CDC_PASSWORD}'",
        f"GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR "
        f"ON *.* TO '{CDC_USER}'@'%'",
    )
    yield server
    server.remove()


@dataclass
class PgDatabase:
    server: PostgresServer
    name: str

    @property
    def dsn(self) -> str:
        """The `cdc` role's DSN: it owns the database and may replicate."""
        return self.server.dsn(CDC_USER, CDC_PASSWORD, self.name)

    def execute(self, *statements: str) -> list[tuple]:
        """Run statements as `cdc`, the owner of the tables the tests create."""
        return self.server.execute(*statements, dsn=self.dsn)


@pytest.fixture
def pg_db(postgres: PostgresServer) -> Iterator[PgDatabase]:
    """A fresh database owned by `cdc`; its replication slots are dropped afterwards."""
    name = f"app{next(_counter)}"
    postgres.execute(f"CREATE DATABASE {name} OWNER {CDC_USER}", db="postgres")
    yield PgDatabase(postgres, name)
    if postgres.proc is not None and postgres.proc.poll() is None:
        postgres.execute(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
            f"WHERE database = '{name}' AND active_pid IS NOT NULL",
            db="postgres",
        )
        postgres.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            f"WHERE database = '{name}' AND NOT active",
            db="postgres",
        )


@dataclass
class MyDatabase:
    server: MariaDbServer
    name: str

    @property
    def url(self) -> str:
        return self.server.url()

    def execute(self, *statements: str) -> tuple:
        return self.server.execute(*statements, db=self.name)


@pytest.fixture
def my_db(mariadb: MariaDbServer) -> MyDatabase:
    """A fresh database (schema) on the session MariaDB."""
    name = f"app{next(_counter)}"
    mariadb.execute(f"CREATE DATABASE {name}")
    return MyDatabase(mariadb, name)
