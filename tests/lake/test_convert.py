"""JSON values into a table's Arrow schema: exact types, new fields, rejects with reasons."""

from __future__ import annotations

import datetime as dt

import orjson
import pyarrow as pa
import pytest

from headwater.lake.convert import CHUNK_ROWS, Converter
from headwater.lake.schema import is_json
from headwater.lake.tables import CLICKSTREAM_EVENTS, spec_for

from .events import BASE_TS, click_event, click_value


@pytest.fixture
def converter() -> Converter:
    return Converter(CLICKSTREAM_EVENTS)


def convert(converter: Converter, values: list[bytes | None], schema: pa.Schema | None = None):
    n = len(values)
    return converter.convert(
        values, [0] * n, list(range(n)), [BASE_TS] * n, schema or CLICKSTREAM_EVENTS.schema
    )


def test_click_events_keep_every_field_with_its_contract_type(converter: Converter) -> None:
    out = convert(converter, [click_value(i) for i in range(3)])
    assert out.rejected == []
    assert out.table.schema.equals(CLICKSTREAM_EVENTS.schema)
    row = out.table.to_pylist()[1]
    event = click_event(1)
    assert row["event_id"] == "e-1"
    assert row["ts"] == dt.datetime.fromtimestamp(event["ts"] / 1000, dt.UTC)
    assert row["event_date"] == dt.date(2023, 11, 14)
    assert row["request"]["path"] == "/spring"
    assert orjson.loads(row["request"]["properties"]) == event["request"]["properties"]
    assert row["user_agent"]["browser"] == "Chrome"
    assert row["campaign"] == {"source": "news", "medium": None, "name": None, "term": None,
                               "content": None}  # fmt: skip
    assert orjson.loads(row["traits"]) == {}
    assert (row["_partition"], row["_offset"]) == (0, 1)


def test_event_date_is_the_utc_day_of_ts(converter: Converter) -> None:
    out = convert(converter, [click_value(999), click_value(1000)])
    assert out.table.column("event_date").to_pylist() == [dt.date(2023, 11, 14),
                                                          dt.date(2023, 11, 15)]  # fmt: skip


def test_new_fields_become_columns_objects_as_json(converter: Converter) -> None:
    values = [
        click_value(0, coupon="SPRING10"),
        click_value(1, cart={"items": 2}, request={**click_event(1)["request"], "ab": True}),
        click_value(2, score=1),
        click_value(3, score=2.5),
    ]
    out = convert(converter, values)
    assert out.rejected == []
    assert out.schema.field("coupon").type == pa.string()
    assert is_json(out.schema.field("cart"))
    assert out.schema.field("score").type == pa.float64()
    assert out.schema.field("request").type.field("ab").type == pa.bool_()
    rows = out.table.to_pylist()
    assert [r["coupon"] for r in rows] == ["SPRING10", None, None, None]
    assert orjson.loads(rows[1]["cart"]) == {"items": 2}
    assert [r["score"] for r in rows] == [None, None, 1.0, 2.5]
    assert [r["request"]["ab"] for r in rows] == [None, True, None, None]


def test_type_conflicts_are_rejected_with_the_reason_and_the_rest_kept(
    converter: Converter,
) -> None:
    values = [
        click_value(0),
        click_value(1, ts="2023-11-14T21:13:20Z"),
        None,
        b"{not json",
        b"[1, 2]",
        click_value(5, geo="DE"),
        click_value(6, is_bot="no"),
        click_value(7, session_id=7),
        click_value(8),
    ]
    out = convert(converter, values)
    assert [(r.index, r.reason) for r in out.rejected] == [
        (1, "ts: expected epoch milliseconds, got a string"),
        (2, "null value (tombstone)"),
        (3, out.rejected[2].reason),
        (4, "not a JSON object: list"),
        (5, "geo: expected an object, got a string"),
        (6, "is_bot: expected a boolean, got a string"),
        (7, "session_id: expected a string, got an integer"),
    ]
    assert out.rejected[2].reason.startswith("invalid JSON")
    assert out.table.column("event_id").to_pylist() == ["e-0", "e-8"]
    assert out.table.column("_offset").to_pylist() == [0, 8]


def test_an_evolved_column_then_refuses_other_types(converter: Converter) -> None:
    first = convert(converter, [click_value(0, score=3)])
    assert first.schema.field("score").type == pa.int64()
    second = convert(converter, [click_value(1, score="high"), click_value(2, score=4)],
                     first.schema)  # fmt: skip
    assert [(r.index, r.reason) for r in second.rejected] == [
        (0, "score: expected an integer, got a string")
    ]
    assert second.table.column("score").to_pylist() == [4]


def test_a_topic_without_contract_takes_the_shape_of_its_json() -> None:
    spec = spec_for("feeds.items")
    assert spec.name == "feeds_items"
    conv = Converter(spec)
    out = conv.convert([b'{"id": 1, "title": "a"}', b'{"id": 2, "tags": ["x"]}'], [3, 3], [7, 8],
                       [BASE_TS, BASE_TS + 86_400_000], spec.schema)  # fmt: skip
    rows = out.table.to_pylist()
    assert [(r["id"], r["title"], r["tags"]) for r in rows] == [(1, "a", None), (2, None, '["x"]')]
    assert [r["event_date"] for r in rows] == [dt.date(2023, 11, 14), dt.date(2023, 11, 15)]
    assert [(r["_partition"], r["_offset"]) for r in rows] == [(3, 7), (3, 8)]


def test_a_batch_of_many_chunks_keeps_each_row_with_its_offset(converter: Converter) -> None:
    """DuckDB scans the chunks in parallel; rows must still pair with their offsets in order."""
    n = 3 * CHUNK_ROWS + 5
    out = convert(converter, [click_value(i) for i in range(n)])
    assert out.rejected == []
    assert out.table.column("event_id").to_pylist() == [f"e-{i}" for i in range(n)]
    assert out.table.column("_offset").to_pylist() == list(range(n))


def test_invalid_utf8_is_rejected_and_the_rest_kept(converter: Converter) -> None:
    values = [click_value(0), click_value(1).replace(b'"e-1"', b'"e-\xff1"'), click_value(2)]
    out = convert(converter, values)
    assert [r.index for r in out.rejected] == [1]
    assert out.rejected[0].reason.startswith("invalid JSON")
    assert out.table.column("event_id").to_pylist() == ["e-0", "e-2"]


# -- the per-record exact check (schema.exact_type) and its fall back to the shape pass ----------


def test_a_new_key_late_in_a_big_batch_still_widens_the_schema(converter: Converter) -> None:
    """Only the last record brings something new: the batch must not take the exact-fit path."""
    n = 2 * CHUNK_ROWS + 3
    values = [click_value(i) for i in range(n - 1)]
    values.append(click_value(n - 1, coupon="LATE", geo={"country": "DE", "city": "Berlin"}))
    out = convert(converter, values)
    assert out.rejected == []
    assert out.schema.field("coupon").type == pa.string()
    assert out.schema.field("geo").type.field("city").type == pa.string()
    assert out.table.column("coupon").to_pylist() == [None] * (n - 1) + ["LATE"]
    assert out.table.column("geo").to_pylist()[-1] == {"country": "DE", "city": "Berlin"}
    assert out.table.column("_offset").to_pylist() == list(range(n))


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"ts": 1_699_996_400_100.5}, "ts: expected epoch milliseconds, got a number"),
        ({"sent_ts": True}, "sent_ts: expected epoch milliseconds, got a boolean"),
        ({"user_id": 42}, "user_id: expected a string, got an integer"),
        ({"is_bot": "false"}, "is_bot: expected a boolean, got a string"),
        ({"user_agent": ["Chrome"]}, "user_agent: expected an object, got a list"),
        ({"request": {"path": {"p": 1}}}, "request.path: expected a string, got an object"),
    ],
)
def test_a_type_conflict_late_in_a_big_batch_is_rejected_with_its_reason(
    converter: Converter, override: dict, reason: str
) -> None:
    n = CHUNK_ROWS + 10
    values = [click_value(i) for i in range(n)]
    values[n - 2] = click_value(n - 2, **override)
    out = convert(converter, values)
    assert [(r.index, r.reason) for r in out.rejected] == [(n - 2, reason)]
    assert out.table.column("_offset").to_pylist() == [*range(n - 2), n - 1]


def test_what_the_exact_check_refuses_but_fits_is_kept(converter: Converter) -> None:
    """Keys the check does not know (sink-reserved names, keys with only nulls) go through the
    shape pass: ignored there, as before, not rejected and not new columns."""
    values = [click_value(0), click_value(1, _offset=7, event_date=None), click_value(2, n=None)]
    out = convert(converter, values)
    assert out.rejected == []
    assert out.schema.equals(CLICKSTREAM_EVENTS.schema, check_metadata=True)
    assert out.table.column("_offset").to_pylist() == [0, 1, 2]


def test_numbers_fit_by_the_same_rules_on_both_paths() -> None:
    """An integer fits a float column, in a batch the check passes and in one it refuses."""
    spec = spec_for("feeds.scores")
    conv = Converter(spec)
    first = conv.convert([b'{"score": 1.5}'], [0], [0], [BASE_TS], spec.schema)
    assert first.schema.field("score").type == pa.float64()
    for extra in (b'{"score": 2}', b'{"score": 2, "new": "x"}'):
        out = conv.convert([b'{"score": 1.5}', extra], [0, 0], [1, 2], [BASE_TS] * 2, first.schema)
        assert out.rejected == []
        assert out.table.column("score").to_pylist() == [1.5, 2.0]


def test_negative_and_positive_integers_together_are_integers() -> None:
    """DuckDB's batch shape of -1 and 5 is HUGEINT: an integer column, on both paths."""
    spec = spec_for("feeds.deltas")
    conv = Converter(spec)
    values = [b'{"n": -1, "t": 1}', b'{"n": 5, "t": -2}']
    first = conv.convert(values, [0, 0], [0, 1], [BASE_TS] * 2, spec.schema)
    assert first.rejected == []
    assert first.schema.field("n").type == pa.int64()
    assert first.table.column("n").to_pylist() == [-1, 5]
    for extra in (b'{"n": 7}', b'{"n": 7, "new": true}'):  # exact check / shape pass
        out = conv.convert([*values, extra], [0] * 3, [0, 1, 2], [BASE_TS] * 3, first.schema)
        assert out.rejected == []
        assert out.table.column("n").to_pylist() == [-1, 5, 7]
        assert out.table.column("t").to_pylist() == [1, -2, None]
