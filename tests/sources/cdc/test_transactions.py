"""`headwater cdc --transactions`: BEGIN/END records and each change's place in its transaction,
on real MariaDB and PostgreSQL (Debezium's transaction metadata)."""

from __future__ import annotations

from headwater.sources.cdc.transactions import TransactionTracker
from tests.sources.cdc.conftest import MyDatabase, PgDatabase
from tests.sources.cdc.support import count_at_least, read_changes, start_cdc


def test_the_tracker_numbers_changes_and_skips_empty_transactions() -> None:
    out: list[tuple[str, bytes | None, bytes | None]] = []
    tracker = TransactionTracker("cdc.s.transaction", lambda t, k, v: out.append((t, k, v)))
    tracker.start("tx1", 1000)
    tracker.end()  # no change: nothing written
    assert out == []
    tracker.start("tx2", 2000)
    assert tracker.tag("db.a") == {"id": "tx2", "total_order": 1, "data_collection_order": 1}
    assert tracker.tag("db.b") == {"id": "tx2", "total_order": 2, "data_collection_order": 1}
    assert tracker.tag("db.a") == {"id": "tx2", "total_order": 3, "data_collection_order": 2}
    tracker.end()
    assert [(t, k) for t, k, _ in out] == [("cdc.s.transaction", b'{"id":"tx2"}')] * 2
    assert b'"status":"BEGIN"' in out[0][2] and b'"status":"END"' in out[1][2]
    assert b'"event_count":3' in out[1][2]
    assert not tracker.open


def check_transactions(changes_by_table: dict[str, list], boundaries: list) -> None:
    """One transaction of 3 changes to `a` (insert, then a key update: delete + create) and 1 to
    `b`, between a BEGIN and an END."""
    begin, end = (b.value for b in boundaries)
    assert (begin["status"], end["status"]) == ("BEGIN", "END")
    assert begin["id"] == end["id"] and boundaries[0].key == {"id": begin["id"]}
    assert end["event_count"] == 4
    assert sorted((d["data_collection"].rsplit(".", 1)[1], d["event_count"])
                  for d in end["data_collections"]) == [("a", 3), ("b", 1)]  # fmt: skip
    blocks = [c.value["transaction"] for changes in changes_by_table.values() for c in changes]
    assert {b["id"] for b in blocks} == {begin["id"]}
    assert sorted(b["total_order"] for b in blocks) == [1, 2, 3, 4]
    orders = [c.value["transaction"]["data_collection_order"] for c in changes_by_table["a"]]
    assert orders == [1, 2, 3]


def test_mariadb_transactions(my_db: MyDatabase, broker, tmp_path) -> None:
    my_db.execute("CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)")
    cdc = start_cdc(tmp_path, my_db.url, broker.bootstrap, "--name", "txm", "--transactions",
                    ready="binlog_started")  # fmt: skip
    try:
        my_db.execute("CREATE TABLE c (id int PRIMARY KEY)")  # DDL: no BEGIN/END
        my_db.execute(
            "START TRANSACTION",
            "INSERT INTO a VALUES (1)",
            "INSERT INTO b VALUES (1)",
            "UPDATE a SET id = 2 WHERE id = 1",
            "COMMIT",
        )
        topic = f"cdc.txm.{my_db.name}"
        changes = {
            t: read_changes(broker.bootstrap, f"{topic}.{t}", count_at_least(n))
            for t, n in (("a", 3), ("b", 1))
        }
        boundaries = read_changes(broker.bootstrap, "cdc.txm.transaction", count_at_least(2))
    finally:
        assert cdc.stop() == 0
    check_transactions(changes, boundaries)
    assert boundaries[0].value["id"].startswith("0-1-")  # the GTID


def test_postgres_transactions(pg_db: PgDatabase, broker, tmp_path) -> None:
    pg_db.execute("CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)")
    cdc = start_cdc(tmp_path, pg_db.dsn, broker.bootstrap, "--name", "txp", "--transactions",
                    ready="replication_started")  # fmt: skip
    try:
        pg_db.execute(
            "BEGIN; INSERT INTO a VALUES (1); INSERT INTO b VALUES (1); "
            "UPDATE a SET id = 2 WHERE id = 1; COMMIT"
        )
        changes = {
            t: read_changes(broker.bootstrap, f"cdc.txp.public.{t}", count_at_least(n))
            for t, n in (("a", 3), ("b", 1))
        }
        boundaries = read_changes(broker.bootstrap, "cdc.txp.transaction", count_at_least(2))
    finally:
        assert cdc.stop() == 0
    check_transactions(changes, boundaries)
    assert boundaries[0].value["id"].isdigit()  # the xid


def test_a_name_taken_by_a_source_of_the_other_kind_is_refused(
    my_db: MyDatabase, pg_db: PgDatabase, broker, tmp_path
) -> None:
    from tests.sources.cdc.support import run_cdc

    cdc = start_cdc(tmp_path, my_db.url, broker.bootstrap, "--name", "taken",
                    ready="binlog_started")  # fmt: skip
    my_db.execute("CREATE TABLE x (id int PRIMARY KEY)")  # a commit: a position is stored
    cdc.stop()
    result = run_cdc(pg_db.dsn, broker.bootstrap, "--name", "taken")
    assert result.returncode != 0
    assert "another source already uses this name" in result.stderr
    assert "Traceback" not in result.stderr
