"""`headwater cdc` against a real PostgreSQL (wal2json) and the embedded broker."""

from __future__ import annotations

import base64
import threading

import psycopg2

from headwater import transport
from headwater.contracts.positions import cdc_key
from headwater.sources import positions
from headwater.sources.cdc.postgres.decode import str_to_lsn
from tests.kit.waiting import wait_until
from tests.sources.cdc.conftest import PgDatabase
from tests.sources.cdc.databases import PostgresServer
from tests.sources.cdc.support import (
    count_at_least,
    read_changes,
    run_cdc,
    start_cdc,
    stored_position,
)

READY = "replication_started"


def test_changes_arrive_in_order_with_debezium_envelopes(pg_db: PgDatabase, broker_url, tmp_path):
    pg_db.execute(
        """CREATE TABLE orders (
            id int PRIMARY KEY, amount numeric(20,6), day date, at timestamptz, local timestamp,
            meta jsonb, blob bytea, ratio float8, ok boolean, note text)""",
        "ALTER TABLE orders REPLICA IDENTITY FULL",
    )
    cdc = start_cdc(tmp_path, pg_db.dsn, broker_url, "--name", "shop", "--tombstones",
                    ready=READY)  # fmt: skip
    try:
        pg_db.execute(
            "INSERT INTO orders VALUES (1, 12345678901234.123456, '2024-02-29', "
            "'2024-01-01 10:00:00.5+02', '2024-01-01 10:00:00', '{\"a\": [1, 2]}', "
            "'\\x00ff', 0.25, true, NULL)",
            "UPDATE orders SET note = 'gift' WHERE id = 1",
            "DELETE FROM orders WHERE id = 1",
            "TRUNCATE orders",
        )
        changes = read_changes(broker_url, "cdc.shop.public.orders", count_at_least(5))
    finally:
        assert cdc.stop() == 0
    assert [c.value["op"] if c.value else None for c in changes] == ["c", "u", "d", None, "t"]
    insert, update, delete, tombstone, truncate = changes
    assert insert.key == {"id": 1} and tombstone.key == {"id": 1} and truncate.key is None
    row = insert.value["after"]
    assert row == {
        "id": 1,
        "amount": "12345678901234.123456",  # exact, as a string
        "day": "2024-02-29",
        "at": "2024-01-01T08:00:00.5Z",
        "local": "2024-01-01T10:00:00",
        "meta": '{"a": [1, 2]}',
        "blob": base64.b64encode(b"\x00\xff").decode(),
        "ratio": 0.25,
        "ok": True,
        "note": None,
    }
    assert insert.value["before"] is None
    assert update.value["before"] == row and update.value["after"] == {**row, "note": "gift"}
    assert delete.value["before"]["note"] == "gift" and delete.value["after"] is None
    source = update.value["source"]
    assert source["connector"] == "postgresql" and source["name"] == "shop"
    assert (source["db"], source["schema"], source["table"]) == (pg_db.name, "public", "orders")
    assert source["snapshot"] == "false" and isinstance(source["txId"], int)
    assert insert.value["source"]["lsn"] < source["lsn"] < delete.value["source"]["lsn"]
    assert all(isinstance(c.value["ts_ms"], int) for c in changes if c.value)


def test_default_replica_identity_is_explained_and_deletes_carry_the_key(
    pg_db: PgDatabase, broker, tmp_path
):
    pg_db.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
    cdc = start_cdc(tmp_path, pg_db.dsn, broker.bootstrap, "--name", "inv", ready=READY)
    try:
        pg_db.execute(
            "INSERT INTO items VALUES (7, 'a')",
            "UPDATE items SET name = 'b'",
            "DELETE FROM items",
        )
        changes = read_changes(broker.bootstrap, "cdc.inv.public.items", count_at_least(3))
    finally:
        cdc.stop()
    assert "ALTER TABLE public.items REPLICA IDENTITY FULL" in cdc.log_text()
    assert [c.value["op"] for c in changes] == ["c", "u", "d"]
    assert changes[1].value["before"] is None
    assert changes[2].value["before"] == {"id": 7} and changes[2].key == {"id": 7}


def test_restart_resumes_after_the_stored_position(pg_db: PgDatabase, broker, tmp_path):
    pg_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    topic = "cdc.s.public.t"
    cdc = start_cdc(tmp_path, pg_db.dsn, broker.bootstrap, "--name", "s", ready=READY)
    pg_db.execute("INSERT INTO t SELECT generate_series(1, 10)")
    read_changes(broker.bootstrap, topic, count_at_least(10))
    assert cdc.stop() == 0
    position = stored_position(broker.bootstrap, "s")
    assert position is not None
    (confirmed,) = pg_db.execute(
        "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'headwater_s'"
    )[0]
    # The slot holds at least what the broker acknowledged. It may be further on: when everything
    # received is confirmed, keepalives move it to the WAL's end, and the other tests' databases on
    # this server write WAL. That it never passes an unacknowledged change: the kill -9 tests.
    assert str_to_lsn(confirmed) >= position["lsn_int"]

    pg_db.execute("INSERT INTO t SELECT generate_series(11, 15)")  # while the reader is down
    cdc = start_cdc(tmp_path, pg_db.dsn, broker.bootstrap, "--name", "s", ready=READY)
    try:
        pg_db.execute("INSERT INTO t VALUES (16)")
        changes = read_changes(broker.bootstrap, topic, count_at_least(16))
    finally:
        cdc.stop()
    assert [c.key["id"] for c in changes] == list(range(1, 17))  # nothing lost, nothing twice


def test_kill_9_mid_stream_loses_nothing(pg_db: PgDatabase, broker, tmp_path):
    pg_db.execute("CREATE TABLE t (id int PRIMARY KEY, pad text)")
    topic = "cdc.k.public.t"
    cdc = start_cdc(tmp_path, pg_db.dsn, broker.bootstrap, "--name", "k", ready=READY)
    total, batch = 20_000, 500

    def write() -> None:
        for start in range(1, total + 1, batch):
            pg_db.execute(
                f"INSERT INTO t SELECT i, repeat('x', 50) FROM generate_series({start}, "
                f"{start + batch - 1}) i"
            )

    writer = threading.Thread(target=write)
    writer.start()
    try:
        read_changes(broker.bootstrap, topic, count_at_least(3000))
        cdc.kill()  # mid-stream: the writer is still going
        assert stored_position(broker.bootstrap, "k") is not None
        writer.join(60)
        cdc = start_cdc(tmp_path, pg_db.dsn, broker.bootstrap, "--name", "k", ready=READY)
        expected = set(range(1, total + 1))
        changes = read_changes(
            broker.bootstrap, topic, lambda cs: {c.key["id"] for c in cs} >= expected, 90
        )
    finally:
        writer.join(60)
        cdc.stop()
    ids = [c.key["id"] for c in changes]
    assert set(ids) == set(range(1, total + 1))
    # Duplicates only from the tail the killed reader had sent but not yet stored as a position.
    assert len(ids) - total < total


def test_idle_database_lets_the_slot_follow_the_wal(pg_db: PgDatabase, broker, tmp_path):
    """Heartbeats: WAL written elsewhere does not pile up behind an idle reader's slot."""
    pg_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    cdc = start_cdc(tmp_path, pg_db.dsn, broker.bootstrap, "--name", "idle", ready=READY)
    try:
        server = pg_db.server
        server.execute("CREATE TABLE IF NOT EXISTS noise (x int)", db="postgres")
        server.execute("INSERT INTO noise SELECT generate_series(1, 10000)", db="postgres")
        (target,) = server.execute("SELECT pg_current_wal_lsn()::text", db="postgres")[0]
        query = (
            "SELECT confirmed_flush_lsn >= %s::pg_lsn FROM pg_replication_slots "
            "WHERE slot_name = 'headwater_idle'"
        )
        conn = psycopg2.connect(server.dsn(db="postgres"))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:

                def slot_caught_up() -> bool:
                    cur.execute(query, (target,))
                    return bool(cur.fetchone()[0])

                wait_until(slot_caught_up, 30, "the idle database's slot to follow the WAL")
        finally:
            conn.close()
    finally:
        cdc.stop()


def test_wrong_password_names_the_cause_and_fix(pg_db: PgDatabase, broker):
    url = pg_db.dsn.replace("cdc-secret", "wrong")
    result = run_cdc(url, broker.bootstrap, "--name", "x")
    assert result.returncode == 2
    assert "refused user 'cdc'" in result.stderr and "fix: check the user and password" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_wal_level_replica_names_the_setting_to_change(postgres: PostgresServer, broker):
    server = PostgresServer(settings={"wal_level": "replica"}).start()
    try:
        result = run_cdc(server.dsn(db="postgres"), broker.bootstrap, "--name", "x")
    finally:
        server.remove()
    assert result.returncode == 2
    assert "wal_level is 'replica'" in result.stderr
    assert "ALTER SYSTEM SET wal_level = logical" in result.stderr
    assert "Traceback" not in result.stderr


def test_table_without_primary_key_is_refused_with_the_fix(pg_db: PgDatabase, broker):
    pg_db.execute("CREATE TABLE log (at timestamptz, line text)")
    result = run_cdc(pg_db.dsn, broker.bootstrap, "--name", "x")
    assert result.returncode == 2
    assert "ALTER TABLE public.log REPLICA IDENTITY FULL" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_replication_privilege_names_the_grant(pg_db: PgDatabase, broker):
    pg_db.server.execute(
        "CREATE ROLE plain LOGIN PASSWORD 'pw'", f"GRANT CONNECT ON DATABASE {pg_db.name} TO plain",
        db="postgres",
    )  # fmt: skip
    url = pg_db.server.dsn("plain", "pw", pg_db.name)
    result = run_cdc(url, broker.bootstrap, "--name", "x")
    pg_db.server.execute(f"REVOKE ALL ON DATABASE {pg_db.name} FROM plain", "DROP ROLE plain",
                         db="postgres")  # fmt: skip
    assert result.returncode == 2
    assert "ALTER ROLE plain REPLICATION" in result.stderr
    assert "Traceback" not in result.stderr


def test_database_restart_mid_stream_reconnects_and_resumes(pg_db: PgDatabase, broker, tmp_path):
    pg_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    topic = "cdc.pgrestart.public.t"
    cdc = start_cdc(tmp_path, pg_db.dsn, broker.bootstrap, "--name", "pgrestart", ready=READY)
    try:
        pg_db.execute("INSERT INTO t SELECT generate_series(1, 5)")
        read_changes(broker.bootstrap, topic, count_at_least(5))
        pg_db.server.restart()
        pg_db.execute("INSERT INTO t SELECT generate_series(6, 10)")
        expected = set(range(1, 11))
        changes = read_changes(
            broker.bootstrap, topic, lambda cs: {c.key["id"] for c in cs} >= expected
        )
        assert cdc.proc.poll() is None  # it reconnected, it did not exit
    finally:
        cdc.stop()
    assert "source_unavailable" in cdc.log_text()
    ids = [c.key["id"] for c in changes]
    assert ids[:5] == [1, 2, 3, 4, 5] and set(ids) == expected


def test_changes_made_while_a_first_run_is_down_are_not_skipped(
    pg_db: PgDatabase, broker, tmp_path
):
    pg_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    cdc = start_cdc(tmp_path, pg_db.dsn, broker.bootstrap, "--name", "pgfirst", ready=READY)
    assert cdc.stop() == 0  # saw no change at all; the slot it created keeps the place
    pg_db.execute("INSERT INTO t VALUES (1)")
    cdc = start_cdc(tmp_path, pg_db.dsn, broker.bootstrap, "--name", "pgfirst", ready=READY)
    try:
        changes = read_changes(broker.bootstrap, "cdc.pgfirst.public.t", count_at_least(1))
    finally:
        cdc.stop()
    assert [c.key for c in changes] == [{"id": 1}]


def test_a_dropped_slot_is_reported_not_silently_recreated(pg_db: PgDatabase, broker, tmp_path):
    pg_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    cdc = start_cdc(tmp_path, pg_db.dsn, broker.bootstrap, "--name", "dropped", ready=READY)
    pg_db.execute("INSERT INTO t VALUES (1)")
    read_changes(broker.bootstrap, "cdc.dropped.public.t", count_at_least(1))
    assert cdc.stop() == 0
    pg_db.execute("SELECT pg_drop_replication_slot('headwater_dropped')")
    result = run_cdc(pg_db.dsn, broker.bootstrap, "--name", "dropped")
    assert result.returncode == 2
    assert "replication slot 'headwater_dropped' is gone" in result.stderr
    assert "--reset-position" in result.stderr and "Traceback" not in result.stderr


def test_a_stored_position_that_is_not_one_names_reset_position_not_the_broker(
    pg_db: PgDatabase, broker
):
    conn = transport.connect(broker.bootstrap)
    with conn.admin() as admin:
        positions.ensure_topic(admin)
    with conn.producer() as producer:
        producer.produce(positions.POSITIONS, b'{"position": 3}', key=cdc_key("garbled"))
        assert producer.flush(10) == 0
    result = run_cdc(pg_db.dsn, broker.bootstrap, "--name", "garbled")
    assert result.returncode == 2
    assert "cdc:garbled" in result.stderr and "--reset-position" in result.stderr
    assert "start the broker" not in result.stderr and "Traceback" not in result.stderr
