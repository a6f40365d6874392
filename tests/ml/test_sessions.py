"""Sessions split by inactivity, with their features, computed in DuckDB over a Delta table."""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson

from headwater.ml import LakeSnapshot, sessions
from tests.kit.processes import run_headwater

from .lake import MINUTE, T0, append_events, event


def lake_sessions(lake: Path, gap_minutes: float = 30) -> list[dict]:
    con = duckdb.connect()
    LakeSnapshot.open(lake, ["clickstream_events"]).register(con)
    rows = sessions(con, gap_minutes).to_pylist()
    return [{k: v for k, v in r.items() if k not in ("session_start", "session_end")} for r in rows]


def visits(lake: Path) -> None:
    append_events(lake, [
        event(0, T0, "u-1"),
        event(1, T0 + 10 * MINUTE, "u-1"),
        event(2, T0 + 45 * MINUTE, "u-1", video="v1"),  # 35 minutes later: a new session
        event(3, T0 + 50 * MINUTE, "u-1", video="v1"),
        event(4, T0 + 80 * MINUTE, "u-1", video="v2"),  # exactly 30 minutes: the same one
        event(5, T0 + 5 * MINUTE, None, anon="anon-9"),
    ])  # fmt: skip


def test_a_gap_longer_than_30_minutes_starts_a_new_session(tmp_path: Path) -> None:
    visits(tmp_path)
    assert lake_sessions(tmp_path) == [
        {"key": "anon-9", "session_no": 1, "events": 1, "duration_s": 0.0, "pages": 1,
         "videos": 0, "bounce": True},
        {"key": "u-1", "session_no": 1, "events": 2, "duration_s": 600.0, "pages": 2,
         "videos": 0, "bounce": False},
        {"key": "u-1", "session_no": 2, "events": 3, "duration_s": 2100.0, "pages": 0,
         "videos": 2, "bounce": False},
    ]  # fmt: skip


def test_the_gap_is_a_parameter(tmp_path: Path) -> None:
    visits(tmp_path)
    assert [(s["key"], s["events"]) for s in lake_sessions(tmp_path, 60)] == [
        ("anon-9", 1),
        ("u-1", 5),
    ]
    assert len(lake_sessions(tmp_path, 5)) == 5


def test_the_command_prints_sessions(tmp_path: Path) -> None:
    visits(tmp_path)
    done = run_headwater("dataset", "sessions", "--lake", str(tmp_path), "--format", "json")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    rows = [orjson.loads(line) for line in out.splitlines()]
    assert [(r["key"], r["session_no"], r["events"]) for r in rows] == [
        ("anon-9", 1, 1),
        ("u-1", 1, 2),
        ("u-1", 2, 3),
    ]
