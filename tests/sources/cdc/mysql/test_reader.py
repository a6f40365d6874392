"""`headwater cdc` against a real MariaDB (row binlog) and the embedded broker."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator

import orjson
import pytest

from headwater import transport
from headwater.contracts.topics import POSITIONS
from headwater.sources import positions
from tests.sources.cdc.conftest import MyDatabase
from tests.sources.cdc.databases import CDC_PASSWORD, MariaDbServer
from tests.sources.cdc.support import (
    count_at_least,
    read_changes,
    run_cdc,
    start_cdc,
    stored_position,
)

READY = "binlog_started"


def test_changes_arrive_in_order_with_debezium_envelopes(my_db: MyDatabase, broker_url, tmp_path):
    my_db.execute(
        """CREATE TABLE orders (
            id int PRIMARY KEY, amount decimal(20,6), day date, at timestamp(3) NULL,
            local datetime(3), took time, meta json, bin varbinary(8), ratio double,
            tags set('a','b'), note text)"""
    )
    args = ("--name", "myshop", "--tombstones", "--table", f"{my_db.name}.orders")
    cdc = start_cdc(tmp_path, my_db.url, broker_url, *args, ready=READY)
    try:
        my_db.execute(
            "SET time_zone = '+02:00'",
            "INSERT INTO orders VALUES (1, 12345678901234.123456, '2024-02-29', "
            "'2024-01-01 10:00:00.5', '2024-01-01 10:00:00', '-25:00:01', '{\"a\": [1, 2]}', "
            "x'00ff', 0.25, 'b,a', NULL)",
            "UPDATE orders SET note = 'gift' WHERE id = 1",
            "DELETE FROM orders WHERE id = 1",
            "TRUNCATE orders",
        )
        topic = f"cdc.myshop.{my_db.name}.orders"
        changes = read_changes(broker_url, topic, count_at_least(5))
    finally:
        assert cdc.stop() == 0
    assert [c.value["op"] if c.value else None for c in changes] == ["c", "u", "d", None, "t"]
    insert, update, delete, tombstone, truncate = changes
    assert insert.key == {"id": 1} and tombstone.key == {"id": 1} and truncate.key is None
    row = insert.value["after"]
    assert row == {
        "id": 1,
        "amount": "12345678901234.123456",
        "day": "2024-02-29",
        "at": "2024-01-01T08:00:00.500000Z",  # TIMESTAMP is UTC in the binlog
        "local": "2024-01-01T10:00:00",
        "took": "-25:00:01",
        "meta": '{"a": [1, 2]}',
        "bin": base64.b64encode(b"\x00\xff").decode(),
        "ratio": 0.25,
        "tags": "a,b",
        "note": None,
    }
    assert update.value["before"] == row and update.value["after"] == {**row, "note": "gift"}
    assert delete.value["before"]["note"] == "gift" and delete.value["after"] is None
    source = update.value["source"]
    assert source["connector"] == "mariadb" and source["name"] == "myshop"
    assert (source["db"], source["table"]) == (my_db.name, "orders")
    assert source["gtid"].startswith("0-1-") and source["file"].startswith("mysql-bin.")
    assert insert.value["source"]["pos"] < source["pos"] < delete.value["source"]["pos"]


def test_ddl_goes_to_the_schema_topic_and_altered_tables_keep_flowing(
    my_db: MyDatabase, broker, tmp_path
):
    my_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    cdc = start_cdc(tmp_path, my_db.url, broker.bootstrap, "--name", "ddl", ready=READY)
    try:
        my_db.execute(
            "INSERT INTO t VALUES (1)",
            "ALTER TABLE t ADD COLUMN label varchar(10) DEFAULT 'x'",
            "INSERT INTO t VALUES (2, 'y')",
        )
        changes = read_changes(broker.bootstrap, f"cdc.ddl.{my_db.name}.t", count_at_least(2))
        ddl = read_changes(broker.bootstrap, "cdc.ddl.schema", count_at_least(1))
    finally:
        cdc.stop()
    assert [c.value["after"] for c in changes] == [{"id": 1}, {"id": 2, "label": "y"}]
    assert ddl[0].value["ddl"].startswith("ALTER TABLE t ADD COLUMN label")
    assert ddl[0].value["databaseName"] == my_db.name


def test_restart_resumes_by_gtid_without_replaying_the_binlog(
    my_db: MyDatabase, broker_url, tmp_path
):
    """The trap: with is_mariadb=True mysql-replication would replay from the first binlog."""
    my_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    topic = f"cdc.g.{my_db.name}.t"
    cdc = start_cdc(tmp_path, my_db.url, broker_url, "--name", "g", ready=READY)
    my_db.execute(*(f"INSERT INTO t VALUES ({i})" for i in range(1, 11)))
    read_changes(broker_url, topic, count_at_least(10))
    assert cdc.stop() == 0
    position = stored_position(broker_url, "g")
    assert position is not None and position["gtid"].startswith("0-1-")

    my_db.execute(*(f"INSERT INTO t VALUES ({i})" for i in range(11, 16)))  # reader down
    cdc = start_cdc(tmp_path, my_db.url, broker_url, "--name", "g", ready=READY)
    try:
        my_db.execute("INSERT INTO t VALUES (16)")
        changes = read_changes(broker_url, topic, count_at_least(16))
    finally:
        cdc.stop()
    assert [c.key["id"] for c in changes] == list(range(1, 17))


def test_resume_from_a_file_and_position_starts_there(my_db: MyDatabase, broker, tmp_path):
    """A file/pos position (no GTID) is honoured on MariaDB instead of replaying from the start."""
    my_db.execute("CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
    file, pos = my_db.server.execute("SHOW MASTER STATUS")[0][:2]
    my_db.execute("INSERT INTO t VALUES (3)", "INSERT INTO t VALUES (4)")
    conn = transport.connect(broker.bootstrap)
    with conn.admin() as admin:
        positions.ensure_topic(admin)
    with conn.producer() as producer:
        value = {"source": "fp", "position": {"gtid": None, "file": file, "pos": int(pos)}}
        producer.produce(POSITIONS, orjson.dumps(value), key=b"fp")  # the pre-`cdc:` key
        assert producer.flush(10) == 0
    conn.close()
    cdc = start_cdc(tmp_path, my_db.url, broker.bootstrap, "--name", "fp", ready=READY)
    try:
        my_db.execute("INSERT INTO t VALUES (5)")
        changes = read_changes(broker.bootstrap, f"cdc.fp.{my_db.name}.t", count_at_least(3))
    finally:
        cdc.stop()
    assert [c.key["id"] for c in changes] == [3, 4, 5]


def test_kill_9_mid_stream_loses_nothing(my_db: MyDatabase, broker, tmp_path):
    my_db.execute("CREATE TABLE t (id int PRIMARY KEY, pad varchar(60))")
    topic = f"cdc.myk.{my_db.name}.t"
    cdc = start_cdc(tmp_path, my_db.url, broker.bootstrap, "--name", "myk", ready=READY)
    total, batch = 10_000, 250

    def write() -> None:
        for start in range(1, total + 1, batch):
            values = ",".join(f"({i}, REPEAT('x', 50))" for i in range(start, start + batch))
            my_db.execute(f"INSERT INTO t VALUES {values}")

    writer = threading.Thread(target=write)
    writer.start()
    try:
        read_changes(broker.bootstrap, topic, count_at_least(2000))
        cdc.kill()
        assert stored_position(broker.bootstrap, "myk") is not None
        writer.join(60)
        cdc = start_cdc(tmp_path, my_db.url, broker.bootstrap, "--name", "myk", ready=READY)
        expected = set(range(1, total + 1))
        changes = read_changes(
            broker.bootstrap, topic, lambda cs: {c.key["id"] for c in cs} >= expected, 90
        )
    finally:
        writer.join(60)
        cdc.stop()
    ids = [c.key["id"] for c in changes]
    assert set(ids) == expected
    assert len(ids) - total < total  # only the unstored tail is sent twice


@pytest.fixture
def wrong_binlog(mariadb: MariaDbServer) -> Iterator[None]:
    mariadb.execute(
        "SET GLOBAL binlog_format = 'STATEMENT'", "SET GLOBAL binlog_row_metadata = 'MINIMAL'"
    )
    yield
    mariadb.execute("SET GLOBAL binlog_format = 'ROW'", "SET GLOBAL binlog_row_metadata = 'FULL'")


def test_wrong_binlog_settings_name_exactly_what_to_change(my_db: MyDatabase, broker, wrong_binlog):
    result = run_cdc(my_db.url, broker.bootstrap, "--name", "x")
    assert result.returncode == 2
    assert "binlog_format is STATEMENT, needs ROW" in result.stderr
    assert "binlog_row_metadata is MINIMAL, needs FULL" in result.stderr
    assert "SET GLOBAL binlog_format = 'ROW'; SET GLOBAL binlog_row_metadata = 'FULL';" in (
        result.stderr
    )
    assert "binlog_row_image" not in result.stderr.split("fix:")[0]  # that one is right
    assert "Traceback" not in result.stderr


def test_wrong_password_names_the_cause_and_fix(my_db: MyDatabase, broker):
    result = run_cdc(my_db.url.replace(CDC_PASSWORD, "wrong"), broker.bootstrap, "--name", "x")
    assert result.returncode == 2
    assert "refused user 'cdc'" in result.stderr
    assert "fix: check the user and password" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_replication_privilege_names_the_grant(my_db: MyDatabase, broker):
    my_db.server.execute(
        "CREATE USER 'plain'@'%' IDENTIFIED BY 'pw'", "GRANT SELECT ON *.* TO 'plain'@'%'"
    )
    try:
        result = run_cdc(my_db.server.url("plain", "pw"), broker.bootstrap, "--name", "x")
    finally:
        my_db.server.execute("DROP USER 'plain'@'%'")
    assert result.returncode == 2
    assert "GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'plain'@'%'" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_database_restart_mid_stream_reconnects_and_resumes(my_db: MyDatabase, broker, tmp_path):
    my_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    topic = f"cdc.myrestart.{my_db.name}.t"
    cdc = start_cdc(tmp_path, my_db.url, broker.bootstrap, "--name", "myrestart", ready=READY)
    try:
        my_db.execute(*(f"INSERT INTO t VALUES ({i})" for i in range(1, 6)))
        read_changes(broker.bootstrap, topic, count_at_least(5))
        my_db.server.restart()
        my_db.execute(*(f"INSERT INTO t VALUES ({i})" for i in range(6, 11)))
        expected = set(range(1, 11))
        changes = read_changes(
            broker.bootstrap, topic, lambda cs: {c.key["id"] for c in cs} >= expected
        )
        assert cdc.proc.poll() is None  # it reconnected, it did not exit
    finally:
        cdc.stop()
    ids = [c.key["id"] for c in changes]
    assert ids[:5] == [1, 2, 3, 4, 5] and set(ids) == expected


def test_changes_made_while_a_first_run_is_down_are_not_skipped(
    my_db: MyDatabase, broker, tmp_path
):
    my_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    cdc = start_cdc(tmp_path, my_db.url, broker.bootstrap, "--name", "myfirst", ready=READY)
    assert cdc.stop() == 0  # saw no change at all
    my_db.execute("INSERT INTO t VALUES (1)")
    cdc = start_cdc(tmp_path, my_db.url, broker.bootstrap, "--name", "myfirst", ready=READY)
    try:
        changes = read_changes(broker.bootstrap, f"cdc.myfirst.{my_db.name}.t", count_at_least(1))
    finally:
        cdc.stop()
    assert [c.key for c in changes] == [{"id": 1}]
