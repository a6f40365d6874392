"""Point-in-time joins: values as they were at each entity row's time, never from its future."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from headwater.ml import ClickstreamFeatures, DatasetSpec, HistoryFeatures, build

from .lake import HISTORY, MINUTE, T0, append_events, event, write_history

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
PLAN = HistoryFeatures(HISTORY, "user_id", ("plan",), prefix="")
ONLY_HISTORY = DatasetSpec(history=(PLAN,), clickstream=None)


def entities(*rows: tuple[str, dt.datetime]) -> pa.Table:
    return pa.table({
        "key": [k for k, _ in rows],
        "ts": pa.array([t for _, t in rows], pa.timestamp("us", tz="UTC")),
        "label": list(range(len(rows))),
    })  # fmt: skip


def plans(lake: Path) -> None:
    write_history(lake, [
        {"user_id": "u-1", "plan": "free", "valid_from": T0, "valid_to": T0 + DAY},
        {"user_id": "u-1", "plan": "pro", "valid_from": T0 + DAY, "valid_to": None},
        {"user_id": "u-2", "plan": "free", "valid_from": T0, "valid_to": T0 + 2 * HOUR},  # deleted
    ])  # fmt: skip


def test_history_values_are_those_valid_at_each_rows_time(tmp_path: Path) -> None:
    plans(tmp_path)
    rows = entities(
        ("u-1", T0 - HOUR),  # before the user existed
        ("u-1", T0 + 12 * HOUR),
        ("u-1", T0 + DAY),  # the change itself is visible at its own time (<=)
        ("u-1", T0 + 9 * DAY),
        ("u-2", T0 + HOUR),
        ("u-2", T0 + 3 * HOUR),  # deleted by then
        ("u-3", T0),  # never existed
    )
    got = build(tmp_path, rows, ONLY_HISTORY).table
    assert got.column("plan").to_pylist() == [None, "free", "pro", "pro", "free", None, None]
    assert got.column("label").to_pylist() == list(range(7))  # entity order and columns kept
    assert got.column_names == ["key", "ts", "label", "plan"]


def test_a_value_changed_after_the_entity_time_does_not_leak(tmp_path: Path) -> None:
    plans(tmp_path)
    append_events(tmp_path, [event(0, T0 + HOUR, "u-1"), event(1, T0 + 2 * HOUR, "u-1")])
    rows = entities(("u-1", T0 + 2 * DAY), ("u-1", T0 + 2 * DAY + 2 * HOUR))
    spec = DatasetSpec(history=(PLAN,))
    before = build(tmp_path, rows, spec).table.to_pylist()
    # After the first entity time: u-1 downgrades, and browses again.
    change = T0 + 2 * DAY + HOUR
    write_history(tmp_path, [
        {"user_id": "u-1", "plan": "free", "valid_from": T0, "valid_to": T0 + DAY},
        {"user_id": "u-1", "plan": "pro", "valid_from": T0 + DAY, "valid_to": change},
        {"user_id": "u-1", "plan": "basic", "valid_from": change, "valid_to": None},
    ])  # fmt: skip
    append_events(tmp_path, [event(2, change, "u-1", video="v9")])
    after = build(tmp_path, rows, spec).table.to_pylist()
    assert after[0] == before[0]  # the first row cannot see what happened after it
    assert (before[0]["plan"], before[0]["events_7d"], before[0]["videos_7d"]) == ("pro", 2, 0)
    assert (after[1]["plan"], after[1]["events_7d"], after[1]["videos_7d"]) == ("basic", 3, 1)


def test_clickstream_counts_and_the_session_as_of_each_time(tmp_path: Path) -> None:
    append_events(tmp_path, [
        event(0, T0 - 8 * DAY, "u-1"),  # outside the 7-day window of every row below
        event(1, T0, "u-1"),
        event(2, T0 + 10 * MINUTE, "u-1", video="v1"),
        event(3, T0 + 20 * MINUTE, "u-1", video="v2"),
        event(4, T0 + 2 * HOUR, "u-1"),
        event(5, T0 + 5 * MINUTE, None, anon="anon-7"),
    ])  # fmt: skip
    rows = entities(
        ("u-1", T0 + 15 * MINUTE),  # inside a session that goes on after it
        ("u-1", T0 + HOUR),  # that session over, the next not started
        ("u-1", T0 + 2 * HOUR),
        ("anon-7", T0 + 6 * MINUTE),  # anonymous visitors are keyed by anonymous_id
        ("u-9", T0),
    )
    spec = DatasetSpec(clickstream=ClickstreamFeatures(window=dt.timedelta(days=7)))
    got = build(tmp_path, rows, spec).table.to_pylist()
    pick = ("events_7d", "pages_7d", "videos_7d", "sessions_7d", "session_events",
            "session_duration_s", "session_pages", "session_videos", "session_bounce",
            "session_idle_s")  # fmt: skip
    assert [tuple(r[c] for c in pick) for r in got] == [
        (2, 1, 1, 1, 2, 600.0, 1, 1, False, 300.0),  # event 3 (20 min) is in its future
        (3, 1, 2, 1, 3, 1200.0, 1, 2, False, 2400.0),
        (4, 2, 2, 2, 1, 0.0, 1, 0, True, 0.0),
        (1, 1, 0, 1, 1, 0.0, 1, 0, True, 60.0),
        (0, 0, 0, 0, None, None, None, None, None, None),
    ]


def test_naive_entity_timestamps_are_utc(tmp_path: Path) -> None:
    plans(tmp_path)
    naive = pa.table({"key": ["u-1"], "ts": pa.array([(T0 + DAY).replace(tzinfo=None)])})
    assert build(tmp_path, naive, ONLY_HISTORY).table.column("plan").to_pylist() == ["pro"]
