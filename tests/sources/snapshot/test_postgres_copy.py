"""The COPY CSV read against the ADBC read, on PostgreSQL: the same table, value for value.

Each test reads one table both ways (the ADBC way by clearing the snapshot's key bounds) and
compares the Arrow tables; values CSV cannot carry exactly must come back through ADBC.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pytest

from headwater.sources.snapshot import (
    SnapshotError,
    csv_chunks,
    open_snapshot,
    postgres,
    postgres_copy,
    run_snapshot,
)
from tests.sources.snapshot.conftest import PgDb

TRICKY = (
    "CREATE TABLE tricky (id bigint PRIMARY KEY, s text, v varchar(30), c char(4), n name,"
    " b bytea, d numeric(38,10), small numeric(4,2), i2 int2, i4 int4, o oid, f4 float4,"
    " f8 float8, ok bool, day date, at timestamp, at3 timestamp(3), tz timestamptz,"
    " doc jsonb, j json, u uuid, addr inet, mood mood)"
)
TEXTS = [
    "NULL", "", " ", ",", '"', '""', 'a "quoted" word', "two\nlines", "cr\rhere", "crlf\r\nend",
    "back\\slash", "\\N", "\\.", "tab\there", "héllo wörld", "日本語", "emoji 🐍", "'",
    'a,b,"c"\n',
]  # fmt: skip
BYTES = ["''", "'\\x00'", "'\\x22'", "'\\x0a0d'", "'\\x2c5c'", "'\\xff00ff'", "NULL"]
FLOATS = [
    "0.1",
    "'NaN'",
    "'Infinity'",
    "'-Infinity'",
    "-0.0",
    "1e-45",
    "3.4028235e38",
    "1.17549435e-38",
]
DOUBLES = ["0.1", "0.30000000000000004", "1e-300", "5e-324", "1.7976931348623157e308", "-0.0"]
NUMERICS = [
    "-1234567890123456789012345678.0123456789", "0.0000000001", "0", "99.99", "-0.01",
]  # fmt: skip


def _insert_tricky(pg: PgDb) -> None:
    pg.execute("CREATE TYPE mood AS ENUM ('ok', 'a,b')", TRICKY)
    rows = []
    for i, text in enumerate(TEXTS):
        literal = "'" + text.replace("'", "''") + "'"
        f = FLOATS[i % len(FLOATS)]  # float4; DOUBLES for float8
        rows.append(
            f"({i + 1}, {literal}, left({literal}, 30), left({literal}, 4), {literal},"
            f" {BYTES[i % len(BYTES)]}, {NUMERICS[i % len(NUMERICS)]}, {i % 100}.5, {i - 9},"
            f" {-(2**31) + i}, {4294967295 - i}, {f}, {DOUBLES[i % len(DOUBLES)]}, {i % 2 == 1},"
            f" '4713-01-01 BC'::date + {i * 400000}, '1970-01-01 00:00:00.000001',"
            f" '2000-02-29 23:59:59.999', '2024-03-31 01:30:00+02', '{{\"k\": {i}}}',"
            f" '[1, {i}]', gen_random_uuid(), '10.0.0.{i}/32', 'a,b')"
        )
    rows.append("(1000, " + ", ".join(["NULL"] * 22) + ")")
    pg.execute("INSERT INTO tricky VALUES " + ", ".join(rows), "ANALYZE tricky")


def _read(pg: PgDb, table: str, copy: bool, chunk_rows: int) -> pa.Table:
    """Every chunk through one reader, as Arrow: what the writer would get (the Delta reader
    cannot read dates BC or past 9999 back, so the lake is not the place to compare them)."""
    snapshot = open_snapshot(pg.url(), table, workers=1, chunk_rows=chunk_rows)
    assert bool(snapshot.bounds) or not copy, "the COPY path was not chosen"
    if not copy:
        snapshot.bounds = {}
    try:
        with snapshot.reader() as reader:
            batches = [batch for chunk in snapshot.chunks for batch in reader.read(chunk)]
    finally:
        snapshot.close()
    schema = pa.schema([pa.field(c.name, c.arrow_type) for c in snapshot.columns])
    batches = [pa.RecordBatch.from_arrays(b.columns, schema=schema) for b in batches]
    return pa.Table.from_batches(batches, schema).sort_by("id")


def _bits(column: pa.ChunkedArray) -> pa.Array:
    """Floats as their bit patterns: NaN equals NaN, -0.0 differs from 0.0."""
    array = column.combine_chunks()
    if pa.types.is_floating(array.type):
        return array.view(pa.int32() if array.type == pa.float32() else pa.int64())
    return array


def _fallbacks(caplog: pytest.LogCaptureFixture, event: str = "adbc_fallback") -> list[str]:
    return [
        r.fields["at"]  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "event", "") == event
    ]


def test_copy_read_equals_the_adbc_read_value_for_value(
    pg: PgDb, caplog: pytest.LogCaptureFixture
) -> None:
    _insert_tricky(pg)
    # Dates from 4713 BC on: the BC ones are not ISO text, so their sub-ranges come via ADBC.
    with caplog.at_level(logging.INFO, logger="headwater"):
        copied = _read(pg, "tricky", copy=True, chunk_rows=4)
    text = _read(pg, "tricky", copy=False, chunk_rows=4)
    assert copied.schema == text.schema
    assert copied.num_rows == len(TEXTS) + 1
    for name in text.column_names:  # (dates BC and past 9999 have no Python form)
        assert _bits(copied.column(name)).equals(_bits(text.column(name))), name
    assert 0 < len(_fallbacks(caplog)) < len(TEXTS)
    # The first sub-range holding an escape (a backslash, tab or newline) moved it to CSV.
    assert len(_fallbacks(caplog, "copy_csv_from_now_on")) == 1
    by_id = {row["id"]: row for row in copied.drop_columns(["day"]).to_pylist()}
    assert by_id[1]["s"] == "NULL" and by_id[1000]["s"] is None
    assert by_id[2]["s"] == "" and by_id[2]["b"] == b"\x00"
    assert by_id[1]["b"] == b"" and by_id[1000]["b"] is None


def test_copy_read_takes_no_fallback_for_ordinary_values(
    pg: PgDb, caplog: pytest.LogCaptureFixture
) -> None:
    _insert_tricky(pg)
    pg.execute("UPDATE tricky SET day = '2024-02-29'")
    with caplog.at_level(logging.INFO, logger="headwater"):
        copied = _read(pg, "tricky", copy=True, chunk_rows=4)
    assert _fallbacks(caplog) == []
    text = _read(pg, "tricky", copy=False, chunk_rows=4)
    for name in text.column_names:
        assert _bits(copied[name]).equals(_bits(text[name])), (name, copied[name], text[name])


def test_values_without_escapes_are_read_as_text_to_the_end(
    pg: PgDb, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg.execute(
        "CREATE TABLE plain (id bigint PRIMARY KEY, s text, d numeric(10,2), b bytea,"
        " at timestamptz)",
        "INSERT INTO plain SELECT g, (ARRAY['', 'NULL', 'a \"q\", b', 'é', NULL])[g % 5 + 1],"
        " g / 7.0, CASE WHEN g % 3 = 0 THEN NULL ELSE int8send(g) END,"
        " timestamptz '2024-03-31 01:30:00+02' + g * interval '1 minute'"
        " FROM generate_series(1, 500) g",
        "ANALYZE plain",
    )
    checked: list[bool] = []  # each sub-range's text, checked for escapes

    def plain_text(data: bytes) -> bool:
        checked.append(csv_chunks.plain_text(data))
        return checked[-1]

    monkeypatch.setattr(postgres_copy, "plain_text", plain_text)
    with caplog.at_level(logging.INFO, logger="headwater"):
        copied = _read(pg, "plain", copy=True, chunk_rows=50)
    assert len(checked) >= 10 and all(checked)
    assert _fallbacks(caplog, "copy_csv_from_now_on") == [] and _fallbacks(caplog) == []
    assert copied.num_rows == 500
    assert copied.equals(_read(pg, "plain", copy=False, chunk_rows=50))
    assert copied.column("s").to_pylist()[:5] == ["NULL", 'a "q", b', "é", None, ""]


def test_sub_ranges_follow_the_bytes_and_cover_sparse_keys(
    pg: PgDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg.execute(
        "CREATE TABLE wide (id bigint PRIMARY KEY, body text)",
        "INSERT INTO wide SELECT g * 7, repeat(chr(65 + g % 26), g % 300) "
        "FROM generate_series(1, 3000) g",
        "INSERT INTO wide VALUES (-9223372036854775808, 'min'), (9223372036854775807, 'max')",
        "ANALYZE wide",
    )
    monkeypatch.setattr(csv_chunks, "TARGET_BYTES", 20_000)
    copied = _read(pg, "wide", copy=True, chunk_rows=1000)
    assert copied.num_rows == 3002
    assert copied.equals(_read(pg, "wide", copy=False, chunk_rows=1000))


def test_nan_numeric_fails_as_it_did_over_adbc(pg: PgDb, lake: Path) -> None:
    pg.execute(
        "CREATE TABLE prices (id int PRIMARY KEY, p numeric(10,2))",
        "INSERT INTO prices VALUES (1, 1.5), (2, 'NaN')",
    )
    with pytest.raises(SnapshotError, match="NaN"):
        run_snapshot(open_snapshot(pg.url(), "prices"), lake)


def test_key_ranges_where_tid_range_scans_are_missing_read_the_same(
    pg: PgDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    _insert_tricky(pg)
    pg.execute("UPDATE tricky SET day = '2024-02-29'")
    by_heap = _read(pg, "tricky", copy=True, chunk_rows=4)
    monkeypatch.setattr(postgres, "TID_RANGE_SCANS", 10**9)  # as if the server were older
    snapshot = open_snapshot(pg.url(), "tricky", chunk_rows=4)
    snapshot.close()
    assert snapshot.quoted_key == '"id"' and "ctid" not in " ".join(snapshot.chunks)
    by_key = _read(pg, "tricky", copy=True, chunk_rows=4)
    for name in by_heap.column_names:
        assert _bits(by_key[name]).equals(_bits(by_heap[name])), name
