"""Change envelopes → key, op, sortable position, time and row; what is rejected and why."""

from __future__ import annotations

import orjson
import pytest

from headwater.contracts.cdc import encode, envelope
from headwater.sink.changes import PositionError, position, read

from .cdc_support import T0_MS, change, source


def test_mysql_positions_sort_by_file_then_pos_then_row() -> None:
    ordered = [
        position("c", {"file": "mysql-bin.000009", "pos": 999_999, "row": 3}),
        position("c", {"file": "mysql-bin.000010", "pos": 4, "row": 0}),
        position("c", {"file": "mysql-bin.000010", "pos": 120, "row": 0}),
        position("c", {"file": "mysql-bin.000010", "pos": 120, "row": 2}),
        position("c", {"file": "mysql-bin.000010", "pos": 120, "row": 11}),
        position("c", {"file": "mysql-bin.000010", "pos": 1200, "row": 0}),
    ]
    assert ordered == sorted(ordered) and len(set(ordered)) == len(ordered)
    assert ordered[1] == "0000000010:00000000000000000004:1:0000000000"


def test_a_mariadb_snapshot_row_sorts_before_the_stream_at_the_same_position() -> None:
    snap = position("r", {"file": "mysql-bin.000003", "pos": 500, "row": 0, "snapshot": "true"})
    streamed = position("u", {"file": "mysql-bin.000003", "pos": 500, "row": 0})
    assert snap < streamed


def test_postgres_lsns_as_integers_or_text_and_snapshots_first() -> None:
    assert position("c", {"lsn": 0x16B3748}) == position("c", {"lsn": "0/16B3748"})
    assert position("c", {"lsn": "1/0"}) > position("c", {"lsn": "0/FFFFFFFF"})
    # A snapshot row sorts before every streamed change: a transaction running when the slot's
    # snapshot was exported is streamed after it, with possibly lower LSNs.
    snapshot = position("r", {"lsn": 9_000_000, "snapshot": "true"})
    assert snapshot < position("u", {"lsn": 8_000_000, "snapshot": "false"})
    assert position("r", {"lsn": 1, "snapshot": "last"}).startswith("0:")


def test_a_source_without_a_position_is_an_error() -> None:
    with pytest.raises(PositionError, match="no position"):
        position("c", {"ts_ms": 1})
    with pytest.raises(PositionError, match="expected an integer"):
        position("c", {"file": "mysql-bin.000001", "pos": "x"})


def test_read_takes_after_or_before_and_the_source_time() -> None:
    ins = change("c", None, {"id": 1, "plan": "free"}, 10, T0_MS)
    dele = change("d", {"id": 1, "plan": "free"}, None, 20, T0_MS + 1)
    trunc = change("t", None, None, 30, T0_MS + 2)
    no_source_ts = encode(envelope("c", None, {"id": 2}, {**source(40, 0), "ts_ms": None}, 77))
    got = read(
        [ins[1], dele[1], None, trunc[1], no_source_ts],
        [ins[0], dele[0], dele[0], None, b'{"id":2}'],
    )
    assert got.op == ["c", "d", "t", "c"]
    assert got.key == ['{"id":1}', '{"id":1}', None, '{"id":2}']
    assert [orjson.loads(r) for r in got.row] == [
        {"id": 1, "plan": "free"},
        {"id": 1, "plan": "free"},
        {},
        {"id": 2},
    ]
    assert got.ts_ms == [T0_MS, T0_MS + 1, T0_MS + 2, 77]  # envelope ts_ms when source has none
    assert got.index == [0, 1, 3, 4] and got.tombstones == [2] and got.rejected == []


def test_read_rejects_with_reasons() -> None:
    key, value = change("u", None, {"id": 1}, 10, T0_MS)
    got = read(
        [b"[1]", value.replace(b'"after":{"id":1}', b'"after":null'), b'{"op":"c"}', value],
        [key, key, key, None],
    )
    assert got.rejected == [
        (0, "not a change envelope: a JSON list"),
        (1, "op u: after is NoneType, expected an object"),
        (2, "source is missing or not an object"),
        (3, "no record key (a table without a primary key cannot be versioned)"),
    ]


def test_an_update_of_the_primary_key_also_deletes_the_old_key() -> None:
    key, value = change("u", {"id": 1, "plan": "free"}, {"id": 7, "plan": "free"}, 10, T0_MS)
    got = read([value], [key])
    assert (got.key, got.op, got.index) == (['{"id":1}', '{"id":7}'], ["d", "u"], [0, 0])
    same_key = change("u", {"id": 1, "plan": "free"}, {"id": 1, "plan": "pro"}, 20, T0_MS)
    assert read([same_key[1]], [same_key[0]]).op == ["u"]
