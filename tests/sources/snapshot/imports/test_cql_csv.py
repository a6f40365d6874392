"""cqlsh COPY TO CSV import: a hand-written file in cqlsh's default format (cqlsh is not
installed here): header, `,`/`"`, empty field = NULL, True/False, 0x blobs, +0000 timestamps."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.sources.snapshot.errors import DumpParseError, SnapshotError
from headwater.sources.snapshot.imports import import_cql_csv
from headwater.sources.snapshot.imports.cql_csv import read_csv

DATA = Path(__file__).parent / "data"


def test_types_are_inferred_and_can_be_given(tmp_path: Path) -> None:
    result = import_cql_csv(
        DATA / "users.cql.csv", tmp_path, "shop", "users", {"price": "decimal", "visits": "varint"}
    )
    assert (result.lake_table, result.rows) == ("snapshots_shop_users", 3)
    table = DeltaTable(str(tmp_path / result.lake_table)).to_pyarrow_table()
    assert {field.name: field.type for field in table.schema} == {
        "id": pa.string(),
        "name": pa.string(),
        "active": pa.bool_(),
        "visits": pa.decimal128(38, 0),
        "ratio": pa.float64(),
        "price": pa.decimal128(38, 3),
        "joined": pa.timestamp("us", tz="UTC"),
        "born": pa.date32(),
        "avatar": pa.binary(),
        "tags": pa.string(),
        "note": pa.string(),
    }
    ada, bob, empty = table.to_pylist()
    assert ada == {
        "id": "5b6962dd-3f90-4c93-8f61-eabfa4a803e2",
        "name": "Ada",
        "active": True,
        "visits": Decimal(36),
        "ratio": 1.5,
        "price": Decimal("19.990"),
        "joined": dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        "born": dt.date(1985, 12, 10),
        "avatar": b"\x00\x01\xff",
        "tags": "['a', 'b']",
        "note": 'said "hi", twice',
    }
    assert bob["visits"] == Decimal(9007199254740993) and bob["avatar"] == b""
    assert bob["joined"] == dt.datetime(2021, 3, 4, 5, 6, 7, 123000, tzinfo=dt.UTC)
    assert bob["note"] is None
    assert empty["note"] == "multi\nline" and empty["active"] is None and empty["name"] is None


def test_inference_without_hints_picks_the_narrowest_kind(tmp_path: Path) -> None:
    schema, _ = read_csv(DATA / "users.cql.csv")
    kinds = {field.name: field.type for field in schema}
    assert kinds["visits"] == pa.int64() and kinds["price"] == pa.float64()


@pytest.mark.parametrize(
    ("text", "types", "line", "problem"),
    [
        ("a,b\n1,2\n3\n", {}, 3, "1 fields, the header has 2"),
        ("a,b\n1,2\n3,x\n", {"b": "int"}, 3, "'b' \\(int\\)"),
        ("a\n0x00\n0xZZ\n", {"a": "blob"}, 3, "not a 0x-hex blob"),
        ("", {}, 1, "empty"),
        ("a\n1\n", {"zz": "int"}, 1, "not in the header"),
        ('a,b\n1,"open\n', {}, 3, "CSV"),
    ],
    ids=["short-row", "bad-int", "bad-blob", "empty", "unknown-hint", "unclosed-quote"],
)
def test_unreadable_lines_are_named(
    tmp_path: Path, text: str, types: dict[str, str], line: int, problem: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DumpParseError, match=problem) as caught:
        import_cql_csv(path, tmp_path / "lake", "ks", "bad", types)
    assert caught.value.line == line


SEED = (DATA / "users.cql.csv").read_bytes()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.binary(max_size=3)), max_size=4))
def test_mutated_files_parse_or_name_a_line(tmp_path: Path, edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(SEED)
    for offset, replacement in edits:
        data[offset : offset + 1] = replacement
    path = tmp_path / "fuzz.csv"
    path.write_bytes(bytes(data))
    try:
        _, batches = read_csv(path, {"price": "decimal"})
        for _ in batches:
            pass
    except SnapshotError:
        pass
