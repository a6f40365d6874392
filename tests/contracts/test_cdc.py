"""The change envelope: the JSON shapes consumers written for Debezium read, and the sink reads."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import orjson
import pytest

from headwater.contracts.cdc import encode, encode_key, format_duration
from headwater.contracts.topics import cdc_table


def test_topic_names_replace_characters_kafka_refuses():
    assert cdc_table("shop", "public", "orders") == "cdc.shop.public.orders"
    assert cdc_table("shop", "my db", "order$") == "cdc.shop.my_db.order_"


def test_python_values_encode_as_debezium_json():
    value = {
        "d": Decimal("1.500000"),
        "nan": Decimal("NaN"),
        "b": b"\x00\xff",
        "t": dt.timedelta(hours=-25, seconds=-1),
        "day": dt.date(2024, 2, 29),
        "at": dt.datetime(2024, 1, 1, 10, 0, 0, 500000),
        "none": None,
    }
    assert orjson.loads(encode(value)) == {
        "d": "1.500000",
        "nan": "NaN",
        "b": "AP8=",
        "t": "-25:00:01",
        "day": "2024-02-29",
        "at": "2024-01-01T10:00:00.500000",
        "none": None,
    }


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (dt.timedelta(0), "00:00:00"),
        (dt.timedelta(hours=838, minutes=59, seconds=59), "838:59:59"),
        (dt.timedelta(seconds=1, microseconds=5), "00:00:01.000005"),
        (-dt.timedelta(minutes=1, microseconds=1), "-00:01:00.000001"),
    ],
)
def test_mysql_time_values_keep_sign_and_hours_beyond_a_day(delta: dt.timedelta, text: str):
    assert format_duration(delta) == text


def test_keys_hold_the_primary_key_columns_in_order():
    row = {"b": 2, "a": 1, "x": "ignored"}
    assert encode_key(["a", "b"], row) == b'{"a":1,"b":2}'
    assert encode_key([], row) is None
    assert encode_key(["a"], None) is None


def test_every_op_the_contract_names_is_read_by_the_lake_sink():
    """The producer's envelope and the sink's reader agree on field names and op codes."""
    from headwater.contracts import cdc
    from headwater.sink.changes import read

    source = {"connector": "postgresql", "db": "shop", "lsn": 100, "ts_ms": 1_700_000_000_000}
    row = {"id": 1, "name": "a"}
    made = {
        cdc.OP_CREATE: cdc.envelope(cdc.OP_CREATE, None, row, source, 1),
        cdc.OP_UPDATE: cdc.envelope(cdc.OP_UPDATE, row, row, source, 1),
        cdc.OP_DELETE: cdc.envelope(cdc.OP_DELETE, row, None, source, 1),
        cdc.OP_READ: cdc.envelope(cdc.OP_READ, None, row, source, 1),
        cdc.OP_TRUNCATE: cdc.envelope(cdc.OP_TRUNCATE, None, None, source, 1),
    }
    assert set(made) == cdc.OPS
    for op, env in made.items():
        assert list(env) == [cdc.BEFORE, cdc.AFTER, cdc.SOURCE, cdc.OP, cdc.TS_MS, cdc.TRANSACTION]
        changes = read([encode(env)], [encode_key(["id"], row)])
        assert changes.rejected == [] and changes.op == [op]
