"""RecordFields: its `__dict__` is a plain dict with ClickEvent's fields, in their order."""

from __future__ import annotations

import orjson

from headwater.sources.clickstream.enrich.record import RecordFields
from headwater.sources.clickstream.model import ClickEvent


def test_fields_are_click_events_in_the_same_order() -> None:
    assert list(RecordFields.__annotations__) == list(ClickEvent.__annotations__)


def test_the_record_is_a_plain_dict_in_the_order_the_fields_were_set() -> None:
    fields = RecordFields()
    for i, name in enumerate(ClickEvent.__annotations__):
        setattr(fields, name, i)
    record = fields.__dict__
    assert type(record) is dict
    assert record == {name: i for i, name in enumerate(ClickEvent.__annotations__)}
    assert list(record) == list(ClickEvent.__annotations__)
    assert orjson.dumps(record) == orjson.dumps(dict(record))
    record["extra"] = True  # as changeable as any dict
    del record["event_id"]
    assert list(record)[-1] == "extra" and "event_id" not in record
