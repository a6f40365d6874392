"""MariaDB snapshots against a private server: types, one consistent snapshot, faults."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headwater.sources.snapshot import SnapshotError, open_snapshot, read_position, run_snapshot
from headwater.sources.snapshot.errors import (
    SourceConnectError,
    SourcePrivilegeError,
    TableNotFoundError,
    UnsupportedTypeError,
)
from tests.sources.snapshot.conftest import MyDb

KINDS = (
    "CREATE TABLE kinds (id bigint PRIMARY KEY, tiny tinyint, small smallint, whole int,"
    " big_u bigint unsigned, int_u int unsigned, price decimal(12,2), wide decimal(38,10),"
    " ratio double, approx float, day date, at datetime(6), stamp timestamp(3) NULL,"
    " doc json, raw blob, bits varbinary(4), name varchar(20), body text, kind enum('a','b'),"
    " yr year)"
)
KINDS_ROWS = (
    "INSERT INTO kinds VALUES (1, -3, 300, 7, 18446744073709551615, 4000000000, -12.34,"
    " 1234567890123456789012345678.0123456789, 1.5, 2.5, '2024-02-29',"
    " '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5', '{\"a\": [1]}', x'00ff27',"
    " x'01', 'héllo', 'it''s\\nmultiline', 'b', 2024)",
    "INSERT INTO kinds (id) VALUES (2)",
)
KINDS_FIRST = {
    "id": 1,
    "tiny": -3,
    "small": 300,
    "whole": 7,
    "big_u": Decimal(18446744073709551615),
    "int_u": 4000000000,
    "price": Decimal("-12.34"),
    "wide": Decimal("1234567890123456789012345678.0123456789"),
    "ratio": 1.5,
    "approx": 2.5,
    "day": dt.date(2024, 2, 29),
    "at": dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
    "stamp": dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=dt.UTC),
    "doc": '{"a": [1]}',
    "raw": b"\x00\xff'",
    "bits": b"\x01",
    "name": "héllo",
    "body": "it's\nmultiline",
    "kind": "b",
    "yr": 2024,
}


def _rows(lake: Path, name: str) -> list[dict]:
    table = DeltaTable(str(lake / name)).to_pyarrow_table()
    return sorted(table.to_pylist(), key=lambda row: row["id"])


def test_types_are_written_faithfully(my: MyDb, lake: Path) -> None:
    my.execute("SET time_zone = '+00:00'", KINDS, *KINDS_ROWS)
    result = run_snapshot(open_snapshot(my.url(), "kinds"), lake)
    table = DeltaTable(str(lake / result.lake_table)).to_pyarrow_table()
    assert table.schema.field("price").type == pa.decimal128(12, 2)
    assert table.schema.field("big_u").type == pa.decimal128(20, 0)
    assert table.schema.field("stamp").type == pa.timestamp("us", tz="UTC")
    first, second = sorted(table.to_pylist(), key=lambda row: row["id"])
    assert first == KINDS_FIRST
    assert second == {"id": 2} | {key: None for key in KINDS_FIRST if key != "id"}
    assert result.lake_table == f"snapshots_{my.name}_kinds"


def test_every_worker_reads_the_locked_instant(my: MyDb, lake: Path) -> None:
    my.execute(
        "CREATE TABLE items (id int PRIMARY KEY, v int)",
        "INSERT INTO items SELECT seq, seq FROM seq_1_to_2000",
    )
    snapshot = open_snapshot(my.url(), "items", workers=3, chunk_rows=100)
    assert len(snapshot.chunks) >= 10
    assert snapshot.position.method == "read_lock"
    # Committed after the lock was released, before any chunk is read.
    my.execute(
        "UPDATE items SET v = -1",
        "DELETE FROM items WHERE id % 2 = 0",
        "INSERT INTO items SELECT seq, seq FROM seq_2001_to_3000",
    )
    after = my.server.execute("SHOW MASTER STATUS")[0]
    result = run_snapshot(snapshot, lake)
    assert _rows(lake, result.lake_table) == [{"id": i, "v": i} for i in range(1, 2001)]
    position = read_position(lake, result.lake_table)
    assert position == result.position
    assert position is not None and position.binlog_file == after[0] and position.gtid
    assert position.binlog_pos is not None and position.binlog_pos < int(after[1])


def test_without_reload_one_connection_reads_with_the_snapshot_position(
    my: MyDb, lake: Path
) -> None:
    my.execute(
        "CREATE TABLE items (id int PRIMARY KEY, v int)",
        "INSERT INTO items SELECT seq, seq FROM seq_1_to_500",
    )
    snapshot = open_snapshot(my.url(user="nolock"), "items", workers=2, chunk_rows=50)
    assert snapshot.workers == 1
    assert snapshot.position.method == "consistent_snapshot_status"
    my.execute("DELETE FROM items")
    after = my.server.execute("SHOW MASTER STATUS")[0]
    result = run_snapshot(snapshot, lake)
    assert len(_rows(lake, result.lake_table)) == 500
    assert result.position.binlog_file == after[0]
    assert result.position.binlog_pos is not None and result.position.binlog_pos < int(after[1])


def test_table_without_primary_key_is_read_unchunked(my: MyDb, lake: Path) -> None:
    my.execute(
        "CREATE TABLE events (id int, payload varchar(10))",
        "INSERT INTO events SELECT seq, 'x' FROM seq_1_to_1000",
    )
    snapshot = open_snapshot(my.url(), "events", chunk_rows=100)
    assert snapshot.chunks == ["TRUE"]
    result = run_snapshot(snapshot, lake)
    assert [row["id"] for row in _rows(lake, result.lake_table)] == list(range(1, 1001))


def test_wrong_password_names_the_user(my: MyDb) -> None:
    with pytest.raises(SourceConnectError, match="'reader'") as caught:
        open_snapshot(my.url(password="wrong"), "t")
    assert "password" in caught.value.fix


def test_missing_privilege_says_what_to_grant(my: MyDb) -> None:
    my.execute("CREATE TABLE secret (id int PRIMARY KEY)")
    with pytest.raises(SourcePrivilegeError, match="'outsider'") as caught:
        open_snapshot(my.url(user="outsider"), "secret")
    assert caught.value.fix.startswith("GRANT SELECT ON")


def test_missing_table(my: MyDb) -> None:
    with pytest.raises(TableNotFoundError, match="nope"):
        open_snapshot(my.url(), "nope")


def test_unsupported_type_names_the_column_and_the_fix(my: MyDb, lake: Path) -> None:
    my.execute(
        "CREATE TABLE spans (id int PRIMARY KEY, took time)",
        "INSERT INTO spans VALUES (1, '-26:00:01')",
    )
    with pytest.raises(UnsupportedTypeError, match="'took'") as caught:
        open_snapshot(my.url(), "spans")
    assert "--as-text took" in caught.value.fix
    result = run_snapshot(open_snapshot(my.url(), "spans", as_text=frozenset({"took"})), lake)
    assert _rows(lake, result.lake_table) == [{"id": 1, "took": "-26:00:01"}]


def test_zero_date_names_the_column_and_leaves_the_lake_unchanged(my: MyDb, lake: Path) -> None:
    my.execute(
        "SET SESSION sql_mode = ''",
        "CREATE TABLE legacy (id int PRIMARY KEY, day date)",
        "INSERT INTO legacy VALUES (1, '0000-00-00')",
    )
    with pytest.raises(SnapshotError, match=r"'day'.*0000-00-00") as caught:
        run_snapshot(open_snapshot(my.url(), "legacy"), lake)
    assert "--as-text day" in caught.value.fix
    assert not (lake / f"snapshots_{my.name}_legacy" / "_delta_log").exists()


def test_a_held_table_lock_times_out_with_a_fix(my: MyDb, monkeypatch: pytest.MonkeyPatch) -> None:
    from headwater.sources.snapshot import mysql

    my.execute("CREATE TABLE busy (id int PRIMARY KEY)")
    holder = my.server.connect(my.name)
    try:
        with holder.cursor() as cur:
            cur.execute("LOCK TABLES busy WRITE")
        monkeypatch.setattr(mysql, "LOCK_WAIT_S", 1)
        with pytest.raises(SnapshotError, match="FLUSH TABLES WITH READ LOCK") as caught:
            open_snapshot(my.url(), "busy", workers=2)
        assert "--workers 1" in caught.value.fix
    finally:
        holder.close()
