"""Private PostgreSQL and MariaDB servers for the snapshot tests (from the test kit).

Users: the superuser/root owns the data; `reader` may read (and, on MariaDB, lock and see the
binlog position); `nolock` may only SELECT (MariaDB: no RELOAD, so no FLUSH TABLES WITH READ LOCK);
`outsider` may log in but read nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kit.databases import MariaDbServer, PostgresServer, remove_pg_template

PASSWORD = "snap-secret"
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def snap_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    for user in ("reader", "outsider"):
        server.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{PASSWORD}'", db="postgres")
    yield server
    server.remove()
    remove_pg_template()


@pytest.fixture(scope="session")
def snap_mariadb() -> Iterator[MariaDbServer]:
    server = MariaDbServer().start()
    server.execute(
        f"CREATE USER 'reader'@'%' IDENTIFIED BY '{PASSWORD}'",
        "GRANT SELECT, RELOAD, BINLOG MONITOR ON *.* TO 'reader'@'%'",
        f"CREATE USER 'nolock'@'%' IDENTIFIED BY '{PASSWORD}'",
        "GRANT SELECT ON *.* TO 'nolock'@'%'",
        f"CREATE USER 'outsider'@'%' IDENTIFIED BY '{PASSWORD}'",
    )
    yield server
    server.remove()


@dataclass
class PgDb:
    server: PostgresServer
    name: str

    def url(self, user: str = "reader", password: str = PASSWORD) -> str:
        return self.server.dsn(user, password, self.name)

    def execute(self, *statements: str) -> list[tuple]:
        return self.server.execute(*statements, db=self.name)


@pytest.fixture
def pg(snap_postgres: PostgresServer) -> PgDb:
    """A fresh database; `reader` may read every table created in its public schema."""
    name = f"snap{next(_counter)}"
    snap_postgres.execute(f"CREATE DATABASE {name}", db="postgres")
    db = PgDb(snap_postgres, name)
    db.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO reader")
    return db


@dataclass
class MyDb:
    server: MariaDbServer
    name: str

    def url(self, user: str = "reader", password: str = PASSWORD) -> str:
        return f"mysql://{user}:{password}@127.0.0.1:{self.server.port}/{self.name}"

    def execute(self, *statements: str) -> tuple:
        return self.server.execute(*statements, db=self.name)


@pytest.fixture
def my(snap_mariadb: MariaDbServer) -> MyDb:
    name = f"snap{next(_counter)}"
    snap_mariadb.execute(f"CREATE DATABASE {name}")
    return MyDb(snap_mariadb, name)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"
