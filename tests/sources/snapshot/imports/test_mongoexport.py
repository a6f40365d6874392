"""mongoexport import: a hand-written export in canonical and relaxed Extended JSON v2 (mongoexport
is not installed here; the file follows MongoDB's Extended JSON v2 specification)."""

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
from headwater.sources.snapshot.imports import import_mongoexport
from headwater.sources.snapshot.imports.mongoexport import read_export

DATA = Path(__file__).parent / "data"


def test_extended_json_types(tmp_path: Path) -> None:
    result = import_mongoexport(DATA / "users.mongoexport.json", tmp_path, "crm", "users")
    assert (result.lake_table, result.rows) == ("snapshots_crm_users", 3)
    table = DeltaTable(str(tmp_path / result.lake_table)).to_pyarrow_table()
    types = {field.name: field.type for field in table.schema}
    assert types == {
        "_id": pa.string(),
        "name": pa.string(),
        "age": pa.int32(),
        "views": pa.int64(),
        "score": pa.float64(),
        "price": pa.decimal128(38, 3),
        "joined": pa.timestamp("us", tz="UTC"),
        "avatar": pa.binary(),
        "active": pa.bool_(),
        "tags": pa.string(),
        "address": pa.string(),
    }
    ada, bob, cy = table.to_pylist()
    assert ada == {
        "_id": "5f1d7c3b9d3e2a1b2c3d4e5f",
        "name": "Ada",
        "age": 36,
        "views": 9007199254740993,
        "score": 1.5,
        "price": Decimal("19.990"),
        "joined": dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        "avatar": b"\x00\x01\x02\xff",
        "active": True,
        "tags": '["a","b"]',
        "address": '{"city":"Paris","zip":{"$numberInt":"75001"}}',
    }
    assert (bob["age"], bob["views"], bob["score"], bob["price"]) == (41, 12, 2.0, Decimal("5.125"))
    assert bob["joined"] == dt.datetime(2021, 3, 4, 5, 6, 7, 123000, tzinfo=dt.UTC)
    assert bob["avatar"] is None and bob["tags"] is None
    assert cy["score"] == float("-inf") and cy["age"] is None
    assert cy["joined"] == dt.datetime(1969, 12, 31, tzinfo=dt.UTC)


def test_json_array_export(tmp_path: Path) -> None:
    path = tmp_path / "array.json"
    path.write_text('[{"a": {"$numberLong": "5"}},\n {"a": 7}]')
    schema, batches = read_export(path)
    assert schema.field("a").type == pa.int64()
    assert [row["a"] for batch in batches for row in batch.to_pylist()] == [5, 7]


@pytest.mark.parametrize(
    ("lines", "line", "problem"),
    [
        (['{"a": 1}', '{"a": {"$regex": "x", "$options": ""}}'], 2, r"\$regex"),
        (['{"a": 1}', '{"a": 2', '{"a": 3}'], 2, "not valid JSON"),
        (['{"a": "x"}', '{"a": 1}', '{"a": {"$date": "2020-01-01T00:00:00Z"}}'], 2, "int32 here"),
        (['{"a": {"$numberLong": "12x"}}'], 1, "invalid"),
        (['{"a": {"$binary": {"base64": "!!", "subType": "00"}}}'], 1, "invalid"),
        (['{"a": 1}', '"text"'], 2, "one JSON document per line"),
        (["[1, 2]"], 1, "not a document"),
    ],
    ids=[
        "regex",
        "broken-json",
        "conflicting-types",
        "bad-long",
        "bad-base64",
        "not-a-document",
        "array-of-scalars",
    ],
)
def test_unreadable_lines_are_named(
    tmp_path: Path, lines: list[str], line: int, problem: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DumpParseError, match=problem) as caught:
        import_mongoexport(path, tmp_path / "lake", "db", "bad")
    assert caught.value.line == line
    assert not (tmp_path / "lake" / "snapshots_db_bad").exists()


SEED = (DATA / "users.mongoexport.json").read_bytes()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.binary(max_size=3)), max_size=4))
def test_mutated_exports_parse_or_name_a_line(
    tmp_path: Path, edits: list[tuple[int, bytes]]
) -> None:
    data = bytearray(SEED)
    for offset, replacement in edits:
        data[offset : offset + 1] = replacement
    path = tmp_path / "fuzz.json"
    path.write_bytes(bytes(data))
    try:
        _, batches = read_export(path)
        for _ in batches:
            pass
    except SnapshotError:
        pass
