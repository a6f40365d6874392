"""`headwater sql`: DuckDB over the lake's Delta tables by name, with time travel and formats."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake

from headwater.query.output import write
from headwater.query.sql import lake_tables, query
from tests.kit.processes import run_headwater


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    write_deltalake(str(tmp_path / "events"), pa.table({"id": [1, 2], "kind": ["a", "b"]}))
    write_deltalake(str(tmp_path / "events"), pa.table({"id": [3], "kind": ["a"]}), mode="append")
    write_deltalake(str(tmp_path / "other"), pa.table({"kind": ["a"], "label": ["Alpha"]}))
    (tmp_path / "not_a_table").mkdir()
    return tmp_path


def test_every_table_is_there_by_name(lake: Path) -> None:
    assert list(lake_tables(lake)) == ["events", "other"]
    result = query(lake, "SELECT e.id, o.label FROM events e JOIN other o USING (kind) ORDER BY 1")
    assert result.to_pylist() == [{"id": 1, "label": "Alpha"}, {"id": 3, "label": "Alpha"}]


def test_as_of_reads_an_earlier_version(lake: Path) -> None:
    assert query(lake, "SELECT count(*) AS n FROM events", as_of=0).to_pylist() == [{"n": 2}]
    assert query(lake, "SELECT count(*) AS n FROM events").to_pylist() == [{"n": 3}]


def test_formats_write_the_same_rows(lake: Path) -> None:
    result = query(lake, "SELECT id, kind FROM events ORDER BY id")
    outs = {}
    for fmt in ("table", "csv", "json", "parquet"):
        buf = io.BytesIO()
        write(result, fmt, buf)
        outs[fmt] = buf.getvalue()
    assert outs["csv"].decode().splitlines() == ['"id","kind"', '1,"a"', '2,"b"', '3,"a"']
    assert [orjson.loads(line) for line in outs["json"].splitlines()][2] == {"id": 3, "kind": "a"}
    assert pq.read_table(io.BytesIO(outs["parquet"])).equals(result)
    assert outs["table"].decode().splitlines()[2:] == ["1  | a", "2  | b", "3  | a", "(3 rows)"]


def test_the_command_prints_errors_and_fails(lake: Path) -> None:
    sql = ("sql", "--lake", str(lake))
    ok = run_headwater(*sql, "SELECT max(id) AS m FROM events", "--format", "csv")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == ['"m"', "3"]
    bad = run_headwater(*sql, "SELECT * FROM missing")
    assert bad.returncode == 2  # a usage error, through the CLI's one boundary
    assert "missing" in bad.stderr and "Traceback" not in bad.stderr


def test_show_tables_lists_every_lake_table(lake: Path) -> None:
    assert query(lake, "SHOW TABLES").column("name").to_pylist() == ["events", "other"]
    names = "SELECT table_name FROM information_schema.tables ORDER BY 1"
    assert query(lake, names).column("table_name").to_pylist() == ["events", "other"]


@pytest.fixture
def mixed_lake(tmp_path: Path) -> Path:
    """A partitioned table with files from `write_deltalake` (strings) and from a MERGE (delta-rs
    writes `string_view`), a column added later, and an empty table."""
    from deltalake import DeltaTable

    path = str(tmp_path / "subs")
    rows = pa.table({"user": ["u1", "u2"], "plan": ["basic", "pro"], "day": ["d1", "d2"]})
    write_deltalake(path, rows, partition_by=["day"])
    update = pa.table({"user": ["u1", "u3"], "plan": ["pro", "basic"], "day": ["d1", "d3"],
                       "seats": [2, 1]})  # fmt: skip
    (
        DeltaTable(path)
        .merge(update, "t.user = s.user", source_alias="s", target_alias="t", merge_schema=True)
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    write_deltalake(str(tmp_path / "empty"), pa.table({"x": pa.array([], pa.int64())}))
    n = 200_000
    many = pa.table({"n": pa.array(range(n)), "part": [f"p{i % 40:02d}" for i in range(n)]})
    for _ in range(3):  # many files: a LIMIT stops the scan with reads of others in flight
        write_deltalake(str(tmp_path / "many"), many, mode="append", partition_by=["part"])
    return tmp_path


def test_filters_and_new_columns_on_files_of_every_writer(mixed_lake: Path) -> None:
    rows = query(
        mixed_lake, "SELECT user, plan, day, seats FROM subs WHERE plan = 'pro' ORDER BY 1"
    )
    assert rows.to_pylist() == [
        {"user": "u1", "plan": "pro", "day": "d1", "seats": 2},
        {"user": "u2", "plan": "pro", "day": "d2", "seats": None},
    ]
    assert query(mixed_lake, "SELECT count(*) AS n FROM subs WHERE day = 'd3'").to_pylist() == [
        {"n": 1}
    ]
    assert query(mixed_lake, "SELECT count(*) AS n FROM empty").to_pylist() == [{"n": 0}]


@pytest.mark.parametrize(
    ("statement", "lines"),
    [("SELECT * FROM many LIMIT 5", 5), ("SELECT * FROM subs WHERE plan = 'pro' LIMIT 1", 1),
     ("SELECT * FROM subs", 3)],
)  # fmt: skip
def test_the_cli_exits_cleanly_after_a_limit(mixed_lake: Path, statement: str, lines: int) -> None:
    """A scan DuckDB stops early must not leave threads that hang or crash the exit."""
    for _ in range(3):
        result = run_headwater(
            "sql", "--lake", str(mixed_lake), "--format", "json", statement, timeout_s=60
        )
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.splitlines()) == lines
