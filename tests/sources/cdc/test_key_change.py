"""An update of the primary key is a delete of the old key (and its tombstone) then a create of
the new one, as Debezium writes it, on MariaDB and on PostgreSQL (default replica identity)."""

from __future__ import annotations

from tests.sources.cdc.conftest import MyDatabase, PgDatabase
from tests.sources.cdc.support import count_at_least, read_changes, start_cdc


def check(changes: list) -> None:
    shape = [(c.key, c.value["op"] if c.value else None) for c in changes]
    assert shape == [
        ({"id": 1}, "c"),
        ({"id": 1}, "d"),
        ({"id": 1}, None),  # tombstone
        ({"id": 2}, "c"),
        ({"id": 2}, "u"),
    ]
    assert changes[1].value["before"]["id"] == 1 and changes[1].value["after"] is None
    assert changes[3].value["after"] == {"id": 2, "v": "a"}


def test_mariadb_key_change(my_db: MyDatabase, broker, tmp_path) -> None:
    my_db.execute("CREATE TABLE t (id int PRIMARY KEY, v varchar(4))")
    cdc = start_cdc(tmp_path, my_db.url, broker.bootstrap, "--name", "kc", "--tombstones",
                    ready="binlog_started")  # fmt: skip
    try:
        my_db.execute(
            "INSERT INTO t VALUES (1, 'a')",
            "UPDATE t SET id = 2 WHERE id = 1",
            "UPDATE t SET v = 'b' WHERE id = 2",
        )
        changes = read_changes(broker.bootstrap, f"cdc.kc.{my_db.name}.t", count_at_least(5))
    finally:
        assert cdc.stop() == 0
    check(changes)


def test_postgres_key_change(pg_db: PgDatabase, broker, tmp_path) -> None:
    pg_db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    cdc = start_cdc(tmp_path, pg_db.dsn, broker.bootstrap, "--name", "kcp", "--tombstones",
                    ready="replication_started")  # fmt: skip
    try:
        pg_db.execute(
            "INSERT INTO t VALUES (1, 'a')",
            "UPDATE t SET id = 2 WHERE id = 1",
            "UPDATE t SET v = 'b' WHERE id = 2",
        )
        changes = read_changes(broker.bootstrap, "cdc.kcp.public.t", count_at_least(5))
    finally:
        assert cdc.stop() == 0
    check(changes)
