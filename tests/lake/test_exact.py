"""`schema.exact_type`, the converter's per-record check, never passes what `schema.fit` would
widen or reject: a batch it passes skips the shape pass, so a miss would drop new keys silently
or let DuckDB's lenient casts through."""

from __future__ import annotations

import json

import duckdb
import msgspec
import orjson
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.lake.convert import structure_of
from headwater.lake.schema import epoch_ms_field, exact_type, fit, json_field
from headwater.lake.tables import CLICKSTREAM_EVENTS

SCHEMA = pa.schema(
    [
        pa.field("s", pa.string()),
        pa.field("i", pa.int64()),
        pa.field("f", pa.float64()),
        pa.field("b", pa.bool_()),
        epoch_ms_field("t"),
        json_field("j"),
        pa.field("o", pa.struct([pa.field("s", pa.string()), json_field("j")])),
        pa.field("_offset", pa.int64()),
    ]
)
RESERVED = frozenset({"_offset"})
DECODE = msgspec.json.Decoder(exact_type([f for f in SCHEMA if f.name not in RESERVED])).decode

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=2),
        st.dictionaries(st.sampled_from(["s", "j", "x"]), inner, max_size=3),
    ),
    max_leaves=6,
)
records = st.dictionaries(st.sampled_from(["s", "i", "f", "b", "t", "j", "o", "x", "_offset"]),
                          values, max_size=6)  # fmt: skip


def passes(obj: dict) -> bool:
    try:
        DECODE(json.dumps(obj).encode())
    except (msgspec.MsgspecError, ValueError):
        return False
    return True


DUCK = duckdb.connect()


@settings(max_examples=2000, deadline=None)
@given(records)
def test_what_the_check_passes_fits_exactly(obj: dict) -> None:
    """By the Python shapes (`structure_of`) and by DuckDB's own (`json_structure`)."""
    if passes(obj):
        assert fit(structure_of(obj), SCHEMA, RESERVED).exact, obj
        text = json.dumps(obj)
        if "{}" in text:
            return  # DuckDB's shape of an empty object is "JSON" (mixed), see test_convert
        (shape,) = DUCK.execute("SELECT json_structure(?::JSON)", [text]).fetchone()
        assert fit(orjson.loads(shape), SCHEMA, RESERVED).exact, (obj, shape)


@settings(max_examples=500, deadline=None)
@given(records)
def test_the_check_refuses_only_known_exceptions(obj: dict) -> None:
    """Exact records pass, except those with a sink-reserved key, a key whose value is null, or
    an integer outside int64 (documented in `exact_type`): these take the shape pass."""
    if fit(structure_of(obj), SCHEMA, RESERVED).exact and not passes(obj):
        text = json.dumps(obj).encode()
        assert (
            "_offset" in obj
            or b"null" in text
            or any(isinstance(v, int) and not -(2**63) <= v < 2**63 for v in _leaves(obj))
        ), obj


def _leaves(v: object) -> list:
    if isinstance(v, dict):
        return [x for item in v.values() for x in _leaves(item)]
    if isinstance(v, list):
        return [x for item in v for x in _leaves(item)]
    return [v]


def test_the_clickstream_contract_builds_a_check() -> None:
    fields = [f for f in CLICKSTREAM_EVENTS.schema if f.name not in CLICKSTREAM_EVENTS.reserved]
    decode = msgspec.json.Decoder(exact_type(fields)).decode
    decode(b'{"event_id": "e", "request": {"properties": {"a": [1]}}, "traits": null}')
