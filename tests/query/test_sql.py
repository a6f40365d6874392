"""`headwater sql`: DuckDB over the lake's Delta tables by name, with time travel and formats."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake

from headwater.query.output import write
from headwater.query.sql import lake_tables, query


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
    cmd = [sys.executable, "-m", "headwater", "sql", "--lake", str(lake)]
    ok = subprocess.run([*cmd, "SELECT max(id) AS m FROM events", "--format", "csv"],
                        capture_output=True, check=True)  # fmt: skip
    assert ok.stdout.decode().splitlines() == ['"m"', "3"]
    bad = subprocess.run([*cmd, "SELECT * FROM missing"], capture_output=True)
    assert bad.returncode == 1
    assert b"missing" in bad.stderr
