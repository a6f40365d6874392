"""Training sets pinned to table versions: rebuilt identically, exported to every format."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headwater.ml import ClickstreamFeatures, DatasetSpec, build, iter_examples, read_versions
from tests.kit.processes import run_headwater

from .lake import HISTORY, T0, append_events, event, write_history
from .test_features import DAY, HOUR, PLAN, entities, plans

SPEC = DatasetSpec(history=(PLAN,))


def grown(lake: Path) -> None:
    """New versions of both tables that change what the rows below would see."""
    write_history(lake, [
        {"user_id": "u-1", "plan": "team", "valid_from": T0, "valid_to": None},
    ])  # fmt: skip
    append_events(lake, [event(10, T0 + HOUR, "u-1"), event(11, T0 + 2 * HOUR, "u-2")])


def rows() -> pa.Table:
    return entities(("u-1", T0 + 2 * DAY), ("u-2", T0 + HOUR), ("u-1", T0 + 3 * HOUR))


def test_a_pinned_rebuild_is_identical_whatever_was_written_since(tmp_path: Path) -> None:
    plans(tmp_path)
    append_events(tmp_path, [event(0, T0 + HOUR, "u-1")])
    first = build(tmp_path, rows(), SPEC)
    assert first.versions == {"clickstream_events": 0, HISTORY: 0}
    grown(tmp_path)
    again = build(tmp_path, rows(), SPEC, pin=first.versions)
    assert again.versions == first.versions
    assert again.table.equals(first.table)
    newest = build(tmp_path, rows(), SPEC)
    assert newest.versions == {"clickstream_events": 1, HISTORY: 1}
    assert not newest.table.equals(first.table)
    assert newest.table.column("plan").to_pylist() == ["team", None, "team"]


def test_exports_carry_the_same_rows_and_the_versions(tmp_path: Path) -> None:
    plans(tmp_path)
    append_events(tmp_path, [event(0, T0 + HOUR, "u-1")])
    train = build(tmp_path, rows(), SPEC)
    path = tmp_path / "train.parquet"
    train.to_parquet(path)
    assert read_versions(path) == train.versions
    assert pq.read_table(path).replace_schema_metadata(None).equals(train.to_arrow())
    frame = train.to_pandas()
    assert list(frame.columns) == train.table.column_names
    assert frame["plan"].tolist() == ["pro", "free", "free"]
    examples = list(iter_examples(train.table, ["events_7d", "session_duration_s"], "label"))
    assert [(x[0], y) for x, y in examples] == [(1.0, 0), (0.0, 1), (1.0, 2)]
    assert math.isnan(examples[1][0][1])  # no session: NaN, not 0
    pq.write_table(pa.table({"a": [1]}), tmp_path / "other.parquet")
    with pytest.raises(ValueError, match="not a headwater dataset"):
        read_versions(tmp_path / "other.parquet")


def test_the_command_builds_and_rebuilds_from_a_pin(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    plans(lake)
    append_events(lake, [event(0, T0 + HOUR, "u-1")])
    pq.write_table(rows(), tmp_path / "entities.parquet")
    history = ("--history", f"{HISTORY}:user_id:plan")

    def dataset_build(lake_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
        entities = str(tmp_path / "entities.parquet")
        return run_headwater(
            "dataset", "build", "--lake", str(lake_dir), "--entities", entities, *args, text=False
        )

    first = dataset_build(lake, *history, "--out", str(tmp_path / "a.parquet"))
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"3 rows, 14 columns from {HISTORY}@0, clickstream_events@0\n".encode()
    grown(lake)
    pin = ("--pin", str(tmp_path / "a.parquet"))
    pinned = dataset_build(lake, *history, "--out", str(tmp_path / "b.parquet"), *pin)
    assert pinned.returncode == 0, pinned.stderr
    a, b = (pq.read_table(tmp_path / f"{n}.parquet") for n in "ab")
    assert a.equals(b) and a.schema.metadata == b.schema.metadata
    assert a.column(f"{HISTORY}__plan").to_pylist() == ["pro", "free", "free"]
    bad = dataset_build(lake, "--history", "nocolon", "--out", str(tmp_path / "c.parquet"))
    assert bad.returncode == 2 and b"TABLE:KEY:COL" in bad.stderr
    missing = dataset_build(tmp_path / "empty", *history, "--out", str(tmp_path / "d.parquet"))
    assert missing.returncode == 1 and missing.stderr.startswith(b"error: "), missing.stderr


def test_window_is_a_parameter(tmp_path: Path) -> None:
    append_events(tmp_path, [event(0, T0 - 2 * DAY, "u-1"), event(1, T0, "u-1")])
    spec = DatasetSpec(clickstream=ClickstreamFeatures(window=dt.timedelta(days=1)))
    got = build(tmp_path, entities(("u-1", T0)), spec).table
    assert got.column("events_1d").to_pylist() == [1]
