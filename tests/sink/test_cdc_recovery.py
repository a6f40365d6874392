"""A crash between the history commit and the current-state commit: the next sink resumes at the
lower txn version and each table takes only what it misses (CdcTableSink on real Delta tables)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from headwater.lake.tables import cdc_names
from headwater.sink.buffer import Batch, TopicBuffer
from headwater.sink.cdc import CdcTableSink
from headwater.sink.runner import table_sink
from headwater.sink.topic import TopicSink

from .cdc_support import CURRENT, GROUP, HISTORY, T0_MS, TOPIC, change, rows

MIN = 60_000


def at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def batch(first_offset: int, records: list) -> Batch:
    buffer = TopicBuffer(TOPIC)
    for n, (key, value) in enumerate(records):
        buffer.add([value], [key], [0], [first_offset + n], [T0_MS])
    return buffer.take()


def sink(lake: Path) -> CdcTableSink:
    names = cdc_names(TOPIC)
    assert names is not None
    return CdcTableSink(lake, TOPIC, names, GROUP)


def test_a_crash_after_the_history_commit_is_repaired_on_restart(tmp_path: Path) -> None:
    one = [change("c", None, {"id": 1, "plan": "free"}, 100, T0_MS)]
    two = [
        change("u", {"id": 1, "plan": "free"}, {"id": 1, "plan": "pro"}, 200, T0_MS + MIN),
        change("c", None, {"id": 5, "plan": "free"}, 210, T0_MS + MIN),
    ]
    three = [
        change("u", {"id": 5, "plan": "free"}, {"id": 5, "plan": "team"}, 300, T0_MS + 2 * MIN),
        change("d", {"id": 1, "plan": "pro"}, None, 310, T0_MS + 2 * MIN),
    ]
    first = sink(tmp_path)
    assert first.start_offsets([0]) == {0: None}
    first.flush(batch(0, one))

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed")

    first.current.commit_once = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="killed"):
        first.flush(batch(1, two))
    first.close()
    assert len(rows(tmp_path, HISTORY)) == 3 and len(rows(tmp_path, CURRENT)) == 1

    # The restarted sink starts at the current table's version + 1 and reads two and three.
    again = sink(tmp_path)
    assert again.start_offsets([0]) == {0: 1}
    again.flush(batch(1, two + three))
    again.close()
    sql = "SELECT id, plan, _op, valid_to FROM t ORDER BY id, _position"
    assert rows(tmp_path, HISTORY, sql) == [
        (1, "free", "c", at(T0_MS + MIN)),
        (1, "pro", "u", at(T0_MS + 2 * MIN)),
        (1, "pro", "d", at(T0_MS + 2 * MIN)),
        (5, "free", "c", at(T0_MS + 2 * MIN)),  # closed although written by the crashed sink
        (5, "team", "u", None),
    ]
    assert rows(tmp_path, CURRENT, "SELECT id, plan FROM t") == [(5, "team")]
    assert again.start_offsets([0]) == {0: 5}


def test_a_batch_of_only_tombstones_and_duplicates_still_moves_the_txns(tmp_path: Path) -> None:
    record = change("c", None, {"id": 1, "plan": "free"}, 100, T0_MS)
    s = sink(tmp_path)
    s.start_offsets([0])
    s.flush(batch(0, [record]))
    s.flush(batch(1, [record, (record[0], None)]))
    assert s.start_offsets([0]) == {0: 3}
    assert len(rows(tmp_path, HISTORY)) == 1 and len(rows(tmp_path, CURRENT)) == 1
    s.close()


def test_change_topics_get_the_cdc_sink_and_the_ddl_topic_does_not(tmp_path: Path) -> None:
    cdc = table_sink(tmp_path, "cdc.shop.shop.subscriptions", GROUP)
    ddl = table_sink(tmp_path, "cdc.shop.schema", GROUP)
    assert isinstance(cdc, CdcTableSink) and isinstance(ddl, TopicSink)
    assert (cdc.names.history, cdc.names.current) == (HISTORY, CURRENT)
    assert cdc.names.dead_letters == "cdc_shop_subscriptions_history_dead_letters"
    assert ddl.spec.name == "cdc_shop_schema"
    cdc.close()
    ddl.close()


def test_a_primary_key_change_ends_the_old_key_and_starts_the_new_one(tmp_path: Path) -> None:
    s = sink(tmp_path)
    s.start_offsets([0])
    s.flush(batch(0, [change("c", None, {"id": 1, "plan": "free"}, 100, T0_MS)]))
    moved = change("u", {"id": 1, "plan": "free"}, {"id": 7, "plan": "free"}, 200, T0_MS + MIN)
    s.flush(batch(1, [moved]))
    s.close()
    sql = "SELECT id, _key, _op, valid_to FROM t ORDER BY _key, _position"
    assert rows(tmp_path, HISTORY, sql) == [
        (1, '{"id":1}', "c", at(T0_MS + MIN)),
        (1, '{"id":1}', "d", at(T0_MS + MIN)),
        (7, '{"id":7}', "u", None),
    ]
    assert rows(tmp_path, CURRENT, "SELECT id, _key FROM t") == [(7, '{"id":7}')]
