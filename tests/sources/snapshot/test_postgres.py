"""PostgreSQL snapshots against a private server: types, one consistent snapshot, faults."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headwater.sources.snapshot import open_snapshot, read_position, run_snapshot
from headwater.sources.snapshot.errors import (
    SourceConnectError,
    SourcePrivilegeError,
    TableNotFoundError,
    UnsupportedTypeError,
)
from tests.sources.snapshot.conftest import PgDb


def _rows(lake: Path, name: str) -> list[dict]:
    table = DeltaTable(str(lake / name)).to_pyarrow_table()
    return sorted(table.to_pylist(), key=lambda row: row["id"])


def test_types_are_written_faithfully(pg: PgDb, lake: Path) -> None:
    pg.execute(
        "CREATE TABLE kinds (id bigint PRIMARY KEY, small smallint, whole int, price numeric(12,2),"
        " wide numeric(30,8), ratio float8, ok boolean, day date, at timestamp(6),"
        " at_tz timestamptz, doc jsonb, raw bytea, name text, code char(3), ref uuid)",
        "INSERT INTO kinds VALUES (1, -3, 7, -12.34, 1234567890123456789012.12345678, 1.5, true,"
        " '2024-02-29', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05+02', '{\"a\": [1]}',"
        " '\\x00ff', 'héllo', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')",
        "INSERT INTO kinds (id) VALUES (2)",
    )
    result = run_snapshot(open_snapshot(pg.url(), "kinds"), lake)
    table = DeltaTable(str(lake / result.lake_table)).to_pyarrow_table()
    assert table.schema.field("price").type == pa.decimal128(12, 2)
    assert table.schema.field("wide").type == pa.decimal128(30, 8)
    assert table.schema.field("at").type == pa.timestamp("us")
    assert table.schema.field("at_tz").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("raw").type == pa.binary()
    first, second = sorted(table.to_pylist(), key=lambda row: row["id"])
    assert first == {
        "id": 1,
        "small": -3,
        "whole": 7,
        "price": Decimal("-12.34"),
        "wide": Decimal("1234567890123456789012.12345678"),
        "ratio": 1.5,
        "ok": True,
        "day": dt.date(2024, 2, 29),
        "at": dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
        "at_tz": dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=dt.UTC),
        "doc": '{"a": [1]}',
        "raw": b"\x00\xff",
        "name": "héllo",
        "code": "ab ",
        "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    }
    assert second == {"id": 2} | {key: None for key in first if key != "id"}
    assert result.lake_table == f"snapshots_{pg.name}_kinds"


def test_every_chunk_reads_the_exported_snapshot(pg: PgDb, lake: Path) -> None:
    pg.execute(
        "CREATE TABLE items (id int PRIMARY KEY, v int)",
        "INSERT INTO items SELECT g, g FROM generate_series(1, 2000) g",
        "ANALYZE items",
    )
    snapshot = open_snapshot(pg.url(), "items", workers=2, chunk_rows=100)
    assert len(snapshot.chunks) >= 10
    # Committed after the snapshot was exported, before any chunk connection exists.
    pg.execute(
        "UPDATE items SET v = -1",
        "DELETE FROM items WHERE id % 2 = 0",
        "INSERT INTO items SELECT g, g FROM generate_series(2001, 3000) g",
    )
    lsn_after = pg.execute("SELECT pg_current_wal_lsn()::text")[0][0]
    result = run_snapshot(snapshot, lake)
    rows = _rows(lake, result.lake_table)
    assert rows == [{"id": i, "v": i} for i in range(1, 2001)]
    position = read_position(lake, result.lake_table)
    assert position == result.position
    assert position is not None and position.pg_snapshot and position.lsn
    assert _lsn(position.lsn) < _lsn(lsn_after)


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def test_table_without_primary_key_is_read_in_ctid_ranges(pg: PgDb, lake: Path) -> None:
    pg.execute(
        "CREATE TABLE events (id int, payload text)",
        "INSERT INTO events SELECT g, repeat('x', 200) FROM generate_series(1, 3000) g",
        "ANALYZE events",
    )
    snapshot = open_snapshot(pg.url(), "events", chunk_rows=500)
    assert len(snapshot.chunks) > 1 and all("ctid" in chunk for chunk in snapshot.chunks)
    result = run_snapshot(snapshot, lake)
    assert [row["id"] for row in _rows(lake, result.lake_table)] == list(range(1, 3001))


def test_a_second_snapshot_is_the_next_version(pg: PgDb, lake: Path) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    assert run_snapshot(open_snapshot(pg.url(), "t"), lake).version == 0
    pg.execute("INSERT INTO t VALUES (2)")
    second = run_snapshot(open_snapshot(pg.url(), "t"), lake)
    assert second.version == 1
    assert [row["id"] for row in _rows(lake, second.lake_table)] == [1, 2]


def test_wrong_password_names_the_user(pg: PgDb) -> None:
    with pytest.raises(SourceConnectError, match="'reader'") as caught:
        open_snapshot(pg.url(password="wrong"), "t")
    assert "password" in caught.value.fix


def test_missing_privilege_says_what_to_grant(pg: PgDb) -> None:
    pg.execute("CREATE TABLE secret (id int PRIMARY KEY)")
    with pytest.raises(SourcePrivilegeError) as caught:
        open_snapshot(pg.url(user="outsider"), "secret")
    assert caught.value.fix.startswith("GRANT SELECT ON")


def test_missing_table(pg: PgDb) -> None:
    with pytest.raises(TableNotFoundError, match="nope"):
        open_snapshot(pg.url(), "nope")


def test_unsupported_type_names_the_column_and_the_fix(pg: PgDb, lake: Path) -> None:
    pg.execute(
        "CREATE TABLE spans (id int PRIMARY KEY, took interval)",
        "INSERT INTO spans VALUES (1, '1 day 02:00')",
    )
    with pytest.raises(UnsupportedTypeError, match="'took'") as caught:
        open_snapshot(pg.url(), "spans")
    assert "--as-text took" in caught.value.fix
    result = run_snapshot(open_snapshot(pg.url(), "spans", as_text=frozenset({"took"})), lake)
    assert _rows(lake, result.lake_table) == [{"id": 1, "took": "1 day 02:00:00"}]


def test_empty_table_is_an_empty_version(pg: PgDb, lake: Path) -> None:
    pg.execute("CREATE TABLE nothing (id int PRIMARY KEY, note text)")
    result = run_snapshot(open_snapshot(pg.url(), "nothing"), lake)
    table = DeltaTable(str(lake / result.lake_table)).to_pyarrow_table()
    assert (result.rows, result.version, table.num_rows) == (0, 0, 0)
    assert table.schema.names == ["id", "note"]
