"""The lake's `clickstream_events` columns are derived from the collector's `ClickEvent`; these
tests tie the two ends: what the enricher writes fits the columns exactly, none is left out."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

import msgspec
import orjson
import pyarrow as pa
import pytest

from headwater.contracts.arrow import CLICK_EVENT_FIELDS, fields_of
from headwater.contracts.clickstream import ClickEvent
from headwater.lake.schema import epoch_ms_field, exact_type, json_field
from headwater.lake.tables import CLICKSTREAM_EVENTS
from headwater.sources.clickstream.enrich import EnrichConfig, Enricher
from headwater.sources.clickstream.enrich.record import RecordFields
from headwater.sources.clickstream.model import RequestContext
from tests.sources.clickstream.enrich.helpers import incoming
from tests.sources.clickstream.enrich.test_user_agent import OKHTTP, SAFARI_IPHONE

USER_AGENT = ("raw", "browser", "browser_version", "os", "os_version", "device_type", "app")


def _s(name: str) -> pa.Field:
    return pa.field(name, pa.string())


#: The columns `clickstream_events` tables were created with before the derivation: a table
#: written by an older version must keep matching the derived schema field for field.
CREATED_WITH = pa.schema(
    [
        *map(_s, ("event_id", "event", "channel")),
        *map(epoch_ms_field, ("client_ts", "sent_ts", "received_ts", "ts")),
        *map(_s, ("user_id", "anonymous_id", "session_id")),
        pa.field(
            "request",
            pa.struct(
                [
                    *map(_s, ("url", "path", "method", "name", "page_id", "video_id")),
                    json_field("properties"),
                ]
            ),
        ),
        pa.field("user_agent", pa.struct(list(map(_s, USER_AGENT)))),
        _s("ip"),
        pa.field("geo", pa.struct([_s("country")])),
        pa.field("referrer", pa.struct(list(map(_s, ("url", "medium", "source"))))),
        pa.field(
            "campaign", pa.struct(list(map(_s, ("source", "medium", "name", "term", "content"))))
        ),
        json_field("traits"),
        pa.field("is_bot", pa.bool_()),
    ]
)

CTX = RequestContext(
    received_ts=1_700_000_010_000,
    client_ip="81.2.69.142",
    user_agent=SAFARI_IPHONE,
    host="collect.shop.example",
    site_hosts=("shop.example",),
)
EVERY_UTM = (
    "https://shop.example/spring?utm_source=newsletter&utm_medium=email&utm_campaign=spring"
    "&utm_term=shoes&utm_content=banner"
)


def _written() -> list[dict[str, Any]]:
    """Records the real enricher writes, across the shapes of events it gets."""
    request = {**incoming()["request"], "url": EVERY_UTM, "page_id": "p1", "video_id": "v1"}
    events = [
        incoming(request=request, user_id="u1", traits={"plan": "pro"}),
        incoming(event="identify", traits={"plan": "pro", "seats": 3, "tags": ["a"]}),
        incoming(event="track:Video Played", client_ts=None, sent_ts=None, user_agent=OKHTTP),
        incoming(
            event="screen",
            channel="mobile",
            campaign={"source": "ad", "medium": "paid", "name": "x", "term": "y", "content": "z"},
            referrer=None,
            ip="2001:db8::1",
        ),
    ]
    records = Enricher(EnrichConfig()).enrich_batch(events, CTX)
    return [orjson.loads(orjson.dumps(r)) for r in records]


def _names(fields: list[pa.Field] | pa.StructType, prefix: str = "") -> set[str]:
    out = set()
    for f in fields:
        out.add(prefix + f.name)
        if pa.types.is_struct(f.type) and not f.metadata:
            out |= _names(f.type, f"{prefix}{f.name}.")
    return out


def _keys(record: dict[str, Any], fields: list[pa.Field] | pa.StructType, prefix: str = "") -> set:
    out = set()
    kinds = {f.name: f for f in fields}
    for key, value in record.items():
        out.add(prefix + key)
        f = kinds.get(key)
        if isinstance(value, dict) and f is not None and pa.types.is_struct(f.type):
            out |= _keys(value, f.type, f"{prefix}{key}.")
    return out


def test_the_derived_schema_is_the_one_tables_were_created_with() -> None:
    assert pa.schema(CLICK_EVENT_FIELDS).equals(CREATED_WITH, check_metadata=True)
    assert CLICKSTREAM_EVENTS.data_fields == CLICK_EVENT_FIELDS


def test_every_record_the_collector_writes_fits_the_columns_exactly() -> None:
    decode = msgspec.json.Decoder(exact_type(list(CLICK_EVENT_FIELDS)))
    for record in _written():
        decode.decode(orjson.dumps(record))  # raises on an unknown key or a wrong type


def test_every_column_is_written_and_every_written_field_has_a_column() -> None:
    fields = list(CLICK_EVENT_FIELDS)
    full = _written()[0]  # every field present, every campaign key
    assert _keys(full, fields) == _names(fields)


def test_the_record_builder_sets_exactly_the_contract_fields() -> None:
    assert list(RecordFields.__annotations__) == list(ClickEvent.__annotations__)


def test_a_type_without_a_column_mapping_fails_loudly() -> None:
    class Mixed(TypedDict):
        value: int | str

    class Numbers(TypedDict):
        kind: Literal[1, 2]

    class Listed(TypedDict):
        items: list[str]

    for bad in (Mixed, Numbers, Listed):
        with pytest.raises(TypeError, match=bad.__name__):
            fields_of(bad)
