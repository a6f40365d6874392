"""The packed read (server-made CSV per key sub-range) against the text protocol read, on MariaDB.

Every test reads the same table both ways, inside snapshots of the same data, and compares the
Arrow tables value for value: the packed path must be a faster way to the same table, not a
different table.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headwater.sources.snapshot import (
    SnapshotError,
    csv_chunks,
    mysql_packed,
    open_snapshot,
    run_snapshot,
)
from tests.sources.snapshot.conftest import MyDb

TRICKY = (
    "CREATE TABLE tricky (id bigint PRIMARY KEY, s varchar(40), t text, b varbinary(16),"
    " blobby blob, d decimal(38,10), u bigint unsigned, f float, g double, day date,"
    " at datetime(6), at0 datetime, stamp timestamp(3) NULL, yr year, flag tinyint(1),"
    " kind enum('a','b,c'), tags set('x','y'), doc json,"
    " latin varchar(20) CHARACTER SET latin1, uni varchar(20) COLLATE utf8mb4_unicode_ci)"
)
TEXTS = [
    "NULL", "", " ", ",", '"', '""', 'a "quoted" word', "two\nlines", "cr\rhere", "crlf\r\nend",
    "back\\slash", "\\n", "tab\there", "héllo wörld", "日本語", "emoji 🐍", "\\", "'",
    "a,b,\"c\"\n",
]  # fmt: skip
BINARIES = ["x''", "x'00'", "x'22'", "x'0a0d'", "x'2c5c'", "x'ff00ff'", "NULL"]
NUMBERS = [
    ("-12345678901234567890123456.0123456789", "18446744073709551615", "0.1", "0.1"),
    ("0.0000000001", "0", "3.40282e38", "1.7976931348623157e308"),
    ("-0.0000000001", "9223372036854775808", "-1.17549e-38", "2.2250738585072014e-308"),
    ("0", "1", "1e-45", "0.30000000000000004"),
]


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _insert_tricky(my: MyDb) -> None:
    my.execute("SET time_zone = '+00:00'", TRICKY)
    rows = []
    for i, text in enumerate(TEXTS):
        literal = _literal(text)
        binary = BINARIES[i % len(BINARIES)]
        d, u, f, g = NUMBERS[i % len(NUMBERS)]
        rows.append(
            f"({i + 1}, {literal}, {literal}, {binary}, {binary}, {d}, {u}, {f}, {g},"
            f" '2024-02-29', '1970-01-01 00:00:00.000001', '9999-12-31 23:59:59',"
            f" '2038-01-19 03:14:07.999', {1901 + i}, {i % 2}, 'b,c', 'x,y', '{{\"k\": {i}}}',"
            f" 'café', {literal})"
        )
    rows.append("(1000, " + ", ".join(["NULL"] * 19) + ")")
    my.execute("SET time_zone = '+00:00'", "INSERT INTO tricky VALUES " + ", ".join(rows))


def _read(my: MyDb, lake: Path, table: str, packed: bool, **options: object) -> pa.Table:
    snapshot = open_snapshot(my.url(), table, **options)  # type: ignore[arg-type]
    assert bool(snapshot.bounds) or not packed, "the packed path was not chosen"
    if not packed:
        snapshot.bounds = {}
    result = run_snapshot(snapshot, lake / ("packed" if packed else "text"))
    table_read = DeltaTable(str(lake / ("packed" if packed else "text") / result.lake_table))
    return table_read.to_pyarrow_table().sort_by("id")


def _fallbacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.fields["at"]
        for r in caplog.records
        if getattr(r, "event", "") == "text_protocol_fallback"
    ]  # type: ignore[attr-defined]


def test_packed_read_equals_the_text_read_value_for_value(
    my: MyDb, lake: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _insert_tricky(my)
    snapshot = open_snapshot(my.url(), "tricky")
    snapshot.close()
    assert "CONVERT" in snapshot.packed_sql  # latin1 and utf8mb4_unicode_ci beside the default
    with caplog.at_level(logging.INFO, logger="headwater"):
        packed = _read(my, lake, "tricky", packed=True, workers=2, chunk_rows=5)
    assert _fallbacks(caplog) == []
    text = _read(my, lake, "tricky", packed=False, workers=2, chunk_rows=5)
    assert packed.schema == text.schema
    assert packed.num_rows == len(TEXTS) + 1
    for name in text.column_names:
        assert packed.column(name).to_pylist() == text.column(name).to_pylist(), name
    assert packed.equals(text)
    by_id = {row["id"]: row for row in packed.to_pylist()}
    assert by_id[1]["s"] == "NULL" and by_id[1000]["s"] is None
    assert by_id[2]["s"] == "" and by_id[2]["b"] == b"\x00"
    assert by_id[1]["b"] == b"" and by_id[1000]["b"] is None
    assert by_id[9]["t"] == "cr\rhere" and by_id[10]["t"] == "crlf\r\nend"


def test_sub_ranges_over_the_packet_size_split_and_one_long_row_reads_as_text(
    my: MyDb, lake: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    my.execute(
        "CREATE TABLE wide (id int PRIMARY KEY, body text)",
        "INSERT INTO wide SELECT seq * 7, REPEAT(CHAR(65 + seq % 26), seq % 300) "
        "FROM seq_1_to_3000",
        "INSERT INTO wide VALUES (100000, REPEAT('long,\"row\"\\n', 2000))",
    )
    monkeypatch.setattr(csv_chunks, "TARGET_BYTES", 20_000)
    monkeypatch.setattr(mysql_packed, "MAX_PACKED_BYTES", 16_384)
    from headwater.sources.snapshot import mysql

    monkeypatch.setattr(mysql, "MAX_PACKED_BYTES", 16_384)
    with caplog.at_level(logging.INFO, logger="headwater"):
        packed = _read(my, lake, "wide", packed=True, workers=2, chunk_rows=1000)
    assert _fallbacks(caplog) == ["`id` >= 100000 AND `id` < 100001"]
    text = _read(my, lake, "wide", packed=False, workers=2, chunk_rows=1000)
    assert packed.num_rows == 3001
    assert packed.equals(text)


def test_sparse_keys_and_negative_keys_are_all_read(my: MyDb, lake: Path) -> None:
    my.execute(
        "CREATE TABLE sparse (id bigint PRIMARY KEY, v varchar(5))",
        "INSERT INTO sparse VALUES (-9223372036854775808, 'min'), (-5, 'a'), (0, NULL),"
        " (3, ''), (1000000000000, 'b'), (9223372036854775807, 'max')",
    )
    packed = _read(my, lake, "sparse", packed=True, workers=2, chunk_rows=1)
    assert packed.to_pylist() == [
        {"id": -9223372036854775808, "v": "min"},
        {"id": -5, "v": "a"},
        {"id": 0, "v": None},
        {"id": 3, "v": ""},
        {"id": 1000000000000, "v": "b"},
        {"id": 9223372036854775807, "v": "max"},
    ]


def test_one_column_table_keeps_its_rows(my: MyDb, lake: Path) -> None:
    my.execute(
        "CREATE TABLE ids (id int PRIMARY KEY)", "INSERT INTO ids SELECT seq FROM seq_1_to_50"
    )
    packed = _read(my, lake, "ids", packed=True)
    assert packed.column("id").to_pylist() == list(range(1, 51))


def test_zero_date_falls_back_to_the_text_error(
    my: MyDb, lake: Path, caplog: pytest.LogCaptureFixture
) -> None:
    my.execute(
        "SET SESSION sql_mode = ''",
        "CREATE TABLE legacy (id int PRIMARY KEY, day date)",
        "INSERT INTO legacy VALUES (1, '2024-01-01'), (2, '0000-00-00')",
    )
    with (
        caplog.at_level(logging.INFO, logger="headwater"),
        pytest.raises(SnapshotError, match=r"'day'.*0000-00-00"),
    ):
        run_snapshot(open_snapshot(my.url(), "legacy"), lake)
    assert len(_fallbacks(caplog)) == 1


def test_bit_columns_keep_the_text_read(my: MyDb, lake: Path) -> None:
    my.execute(
        "CREATE TABLE flags (id int PRIMARY KEY, f bit(10))",
        "INSERT INTO flags VALUES (1, b'1000000001')",
    )
    snapshot = open_snapshot(my.url(), "flags")
    assert snapshot.bounds == {}
    result = run_snapshot(snapshot, lake)
    rows = DeltaTable(str(lake / result.lake_table)).to_pyarrow_table().to_pylist()
    assert rows == [{"id": 1, "f": b"\x02\x01"}]


def test_one_collation_needs_no_conversion_and_reads_the_same(my: MyDb, lake: Path) -> None:
    my.execute("CREATE TABLE notes (id int PRIMARY KEY, s varchar(40), t text, kind enum('a,b'))")
    values = ", ".join(f"({i}, {_literal(t)}, {_literal(t)}, 'a,b')" for i, t in enumerate(TEXTS))
    my.execute(f"INSERT INTO notes VALUES {values}, (100, NULL, NULL, NULL)")
    snapshot = open_snapshot(my.url(), "notes")
    snapshot.close()
    assert "CONVERT" not in snapshot.packed_sql
    packed = _read(my, lake, "notes", packed=True, workers=2, chunk_rows=5)
    assert packed.equals(_read(my, lake, "notes", packed=False, workers=2, chunk_rows=5))
    assert packed.column("s").to_pylist()[: len(TEXTS)] == TEXTS


def test_binary_read_as_text_keeps_the_text_read(my: MyDb) -> None:
    my.execute("CREATE TABLE raw (id int PRIMARY KEY, b blob)", "INSERT INTO raw VALUES (1, 'x')")
    as_text = open_snapshot(my.url(), "raw", as_text=frozenset({"b"}))
    as_text.close()
    as_binary = open_snapshot(my.url(), "raw")
    as_binary.close()
    assert as_text.bounds == {} and as_binary.bounds != {}
