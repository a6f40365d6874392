"""Change topics through `headwater sink` (real broker, in-process sink) into the history (SCD2)
and current-state tables: version chains, deletes, duplicates, truncates, new columns, dead
letters, restarts, and point-in-time reads of the history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from headwater.ml import DatasetSpec, HistoryFeatures, build

from ..conftest import BrokerProcess
from .cdc_support import (
    CURRENT,
    DEAD,
    HISTORY,
    T0_MS,
    change,
    create_topic,
    dicts,
    produce,
    rows,
    sink_until,
)

MIN = 60_000
UTC = dt.UTC


def at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, UTC)


def lifecycle() -> list:
    """id 1: insert, two updates, delete; id 2: insert."""
    one = {"id": 1, "plan": "free"}
    return [
        change("c", None, one, 1000, T0_MS),
        change("u", one, {"id": 1, "plan": "pro"}, 2000, T0_MS + MIN),
        change("c", None, {"id": 2, "plan": "free"}, 2500, T0_MS + MIN),
        change("u", {"id": 1, "plan": "pro"}, {"id": 1, "plan": "team"}, 3000, T0_MS + 2 * MIN),
        change("d", {"id": 1, "plan": "team"}, None, 4000, T0_MS + 3 * MIN),
    ]


def chain(lake: Path) -> list[tuple]:
    return rows(lake, HISTORY, "SELECT id, plan, _op, valid_from, valid_to FROM t "
                               "ORDER BY id, _position")  # fmt: skip


EXPECTED_CHAIN = [
    (1, "free", "c", at(T0_MS), at(T0_MS + MIN)),
    (1, "pro", "u", at(T0_MS + MIN), at(T0_MS + 2 * MIN)),
    (1, "team", "u", at(T0_MS + 2 * MIN), at(T0_MS + 3 * MIN)),
    (1, "team", "d", at(T0_MS + 3 * MIN), at(T0_MS + 3 * MIN)),  # zero-length: deleted
    (2, "free", "c", at(T0_MS + MIN), None),
]


def test_insert_updates_delete_make_a_version_chain_and_leave_no_current_row(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    create_topic(broker.bootstrap)
    records = lifecycle()
    produce(broker.bootstrap, records)
    sink_until(broker.bootstrap, tmp_path, len(records) - 1)
    assert chain(tmp_path) == EXPECTED_CHAIN
    current = dicts(tmp_path, CURRENT)
    assert [(r["id"], r["plan"], r["_op"], r["_key"]) for r in current] == [
        (2, "free", "c", '{"id":2}')
    ]
    assert current[0]["_updated_at"] == at(T0_MS + MIN)
    history = dicts(tmp_path, HISTORY)
    assert [r["_offset"] for r in history] == [0, 1, 3, 4, 2]
    assert {r["event_date"] for r in history} == {dt.date(2023, 11, 14)}
    assert history[0]["_position"] == "0000000003:00000000000000001000:1:0000000000"


def test_versions_across_commits_are_closed_by_merge(broker: BrokerProcess, tmp_path: Path) -> None:
    """One record per commit: every valid_to comes from the MERGE, none from the batch window."""
    create_topic(broker.bootstrap)
    records = lifecycle()
    produce(broker.bootstrap, records)
    sink_until(broker.bootstrap, tmp_path, len(records) - 1, max_rows=1)
    assert chain(tmp_path) == EXPECTED_CHAIN
    assert [r["id"] for r in dicts(tmp_path, CURRENT)] == [2]


def test_resent_changes_are_dropped_by_position_in_a_batch_and_across_restarts(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    create_topic(broker.bootstrap)
    records = lifecycle()
    # The reader restarted and sent the first three changes again (same source positions).
    first = records[:3] + records[:3]
    produce(broker.bootstrap, first)
    sink_until(broker.bootstrap, tmp_path, len(first) - 1)
    assert len(rows(tmp_path, HISTORY)) == 3
    # A second sink run: the rest, with the whole lifecycle re-sent once more after it.
    second = records[3:] + records
    produce(broker.bootstrap, second)
    sink_until(broker.bootstrap, tmp_path, len(first) + len(second) - 1)
    assert chain(tmp_path) == EXPECTED_CHAIN
    assert [r["id"] for r in dicts(tmp_path, CURRENT)] == [2]  # the old insert did not revive 1


def test_a_truncate_closes_every_open_version_and_empties_the_current_state(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    create_topic(broker.bootstrap)
    records = [
        change("c", None, {"id": 1, "plan": "free"}, 1000, T0_MS),
        change("c", None, {"id": 2, "plan": "pro"}, 1100, T0_MS),
    ]
    produce(broker.bootstrap, records)
    sink_until(broker.bootstrap, tmp_path, 1)
    more = [
        change("u", {"id": 2, "plan": "pro"}, {"id": 2, "plan": "team"}, 1200, T0_MS + MIN),
        change("t", None, None, 1300, T0_MS + 2 * MIN),
        change("c", None, {"id": 3, "plan": "free"}, 1400, T0_MS + 3 * MIN),
    ]
    produce(broker.bootstrap, more)
    sink_until(broker.bootstrap, tmp_path, 4)
    assert chain(tmp_path) == [
        (1, "free", "c", at(T0_MS), at(T0_MS + 2 * MIN)),
        (2, "pro", "c", at(T0_MS), at(T0_MS + MIN)),
        (2, "team", "u", at(T0_MS + MIN), at(T0_MS + 2 * MIN)),
        (3, "free", "c", at(T0_MS + 3 * MIN), None),
    ]
    assert [r["id"] for r in dicts(tmp_path, CURRENT)] == [3]


def test_a_column_added_mid_stream_appears_in_both_tables(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    create_topic(broker.bootstrap)
    produce(broker.bootstrap, [change("c", None, {"id": 1, "plan": "free"}, 1000, T0_MS)])
    sink_until(broker.bootstrap, tmp_path, 0)
    # ALTER TABLE subscriptions ADD COLUMN seats int; then an update and an insert use it.
    produce(broker.bootstrap, [
        change("u", {"id": 1, "plan": "free", "seats": None},
               {"id": 1, "plan": "team", "seats": 5}, 2000, T0_MS + MIN),
        change("c", None, {"id": 2, "plan": "free", "seats": 1}, 2100, T0_MS + MIN),
    ])  # fmt: skip
    sink_until(broker.bootstrap, tmp_path, 2)
    sql = "SELECT id, plan, seats, valid_to IS NULL FROM t ORDER BY _key, _position"
    assert rows(tmp_path, HISTORY, sql) == [
        (1, "free", None, False),
        (1, "team", 5, True),
        (2, "free", 1, True),
    ]
    assert rows(tmp_path, CURRENT, "SELECT id, plan, seats FROM t ORDER BY id") == [
        (1, "team", 5),
        (2, "free", 1),
    ]


def test_unreadable_envelopes_are_dead_lettered_and_the_rest_lands(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    create_topic(broker.bootstrap)
    good = change("c", None, {"id": 1, "plan": "free"}, 1000, T0_MS)
    key, value = good
    records = [
        (key, b"{not json"),
        (key, value.replace(b'"op":"c"', b'"op":"x"')),
        (key, value.replace(b'"plan":"free"', b'"plan":7')),  # the column is a string
        (key, value.replace(b'"file":"mysql-bin.000003",', b"").replace(b'"pos":1000,', b"")),
        (None, value),  # no key
        good,
        (key, None),  # a tombstone: skipped, not a dead letter
    ]
    produce(broker.bootstrap, [*records[:1], good])
    sink_until(broker.bootstrap, tmp_path, 1)  # the table and its schema exist
    produce(broker.bootstrap, records[1:])
    sink_until(broker.bootstrap, tmp_path, 1 + len(records) - 1)
    reasons = rows(tmp_path, DEAD, "SELECT _offset, reason FROM t ORDER BY _offset")
    assert [o for o, _ in reasons] == [0, 2, 3, 4, 5]
    assert reasons[0][1].startswith("invalid JSON")
    assert reasons[1][1] == "op is 'x', expected one of c, u, d, r, t"
    assert reasons[2][1] == "plan: expected a string, got an integer"
    assert reasons[3][1] == "source has no position (file/pos or lsn)"
    assert reasons[4][1].startswith("no record key")
    assert rows(tmp_path, HISTORY, "SELECT id, _offset FROM t") == [(1, 1)]
    assert rows(tmp_path, CURRENT, "SELECT id, _offset FROM t") == [(1, 1)]


def test_snapshot_reads_sort_before_the_stream_that_follows_them(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    """A MariaDB snapshot row carries the position the stream starts from, with row 0; the first
    streamed change may carry the same file/pos (the transaction's start)."""
    create_topic(broker.bootstrap)
    records = [
        change("r", None, {"id": 1, "plan": "free"}, 5000, T0_MS),
        change("u", {"id": 1, "plan": "free"}, {"id": 1, "plan": "pro"}, 5000, T0_MS + MIN),
        change("r", None, {"id": 1, "plan": "free"}, 5000, T0_MS),  # the snapshot re-sent
    ]
    produce(broker.bootstrap, records)
    sink_until(broker.bootstrap, tmp_path, 2)
    assert rows(tmp_path, HISTORY, "SELECT plan, _op, valid_to FROM t ORDER BY _position") == [
        ("free", "r", at(T0_MS + MIN)),
        ("pro", "u", None),
    ]
    assert rows(tmp_path, CURRENT, "SELECT plan FROM t") == [("pro",)]


def test_point_in_time_features_read_the_history_table(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    create_topic(broker.bootstrap)
    records = lifecycle()
    produce(broker.bootstrap, records)
    sink_until(broker.bootstrap, tmp_path, len(records) - 1, max_rows=2)
    sec = dt.timedelta(seconds=1)
    times = [
        (1, at(T0_MS) - sec),  # before the insert
        (1, at(T0_MS)),  # the insert's own time
        (1, at(T0_MS + MIN) - sec),
        (1, at(T0_MS + MIN)),
        (1, at(T0_MS + 2 * MIN) + sec),
        (1, at(T0_MS + 3 * MIN) - sec),
        (1, at(T0_MS + 3 * MIN)),  # deleted at that instant
        (1, at(T0_MS + 9 * MIN)),
        (2, at(T0_MS + 9 * MIN)),
    ]
    entities = pa.table({
        "key": pa.array([k for k, _ in times], pa.int64()),
        "ts": pa.array([t for _, t in times], pa.timestamp("us", tz="UTC")),
    })  # fmt: skip
    spec = DatasetSpec(history=(HistoryFeatures(HISTORY, "id", ("plan",), prefix=""),),
                       clickstream=None)  # fmt: skip
    got = build(tmp_path, entities, spec).table.column("plan").to_pylist()
    assert got == [None, "free", "free", "pro", "team", "team", None, None, "free"]
