"""parse_body: the body shapes of each endpoint, body errors, size limits, rejected bytes."""

from __future__ import annotations

import orjson
import pytest

from headwater.sources.clickstream.model import Rejection
from headwater.sources.clickstream.parse import BodyError, ParseLimits, ParseResult
from tests.sources.clickstream.parse.helpers import RECEIVED, event, generated_ids, parse

#: one call as the tracker (t.js) sends it, in a JSON array with others
TRACKER_CALL = {
    "messageId": "7f3e9a52-2f1c-4d89-9a0e-0c1d2e3f4a5b",
    "type": "page",
    "timestamp": "2023-11-14T22:13:18.250Z",
    "anonymousId": "a-1",
    "userId": None,
    "sessionId": "s-1",
    "properties": {},
    "context": {
        "page": {
            "url": "https://shop.example/p/42?utm_source=news",
            "path": "/p/42",
            "search": "?utm_source=news",
            "referrer": "https://www.google.com/",
            "title": "Product 42",
        },
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
        "campaign": {"source": "news"},
        "channel": "web",
        "sessionId": "s-1",
        "locale": "en-GB",
        "library": {"name": "headwater.js", "version": "0.1.0"},
    },
    "sentAt": "2023-11-14T22:13:19.000Z",
}
TRACKER_EVENT = event(
    event_id="7f3e9a52-2f1c-4d89-9a0e-0c1d2e3f4a5b",
    event="page",
    channel="web",
    client_ts=RECEIVED - 1750,
    sent_ts=RECEIVED - 1000,
    anonymous_id="a-1",
    session_id="s-1",
    request={"url": "https://shop.example/p/42?utm_source=news", "path": "/p/42", "method": "GET"},
    user_agent="Mozilla/5.0 (X11; Linux x86_64)",
    referrer="https://www.google.com/",
    campaign={"source": "news"},
    context=TRACKER_CALL["context"],
)


def call(**fields: object) -> dict[str, object]:
    return {"type": "track", "event": "click", "anonymousId": "a", **fields}


def only(result: ParseResult) -> list:
    assert result.body_error is None
    return [(r.index, r.reason, r.raw) for r in result.rejections]


# -- shapes ---------------------------------------------------------------------------------


def test_tracker_array_becomes_events():
    body = orjson.dumps([TRACKER_CALL, {**TRACKER_CALL, "messageId": "m2"}])
    result = parse(body)
    assert only(result) == []
    assert result.events == [TRACKER_EVENT, {**TRACKER_EVENT, "event_id": "m2"}]


def test_single_object_on_collect():
    assert parse(orjson.dumps(TRACKER_CALL)).events == [TRACKER_EVENT]


def test_ndjson_by_content_type():
    body = b"\n".join(orjson.dumps(call(messageId=f"m{i}")) for i in range(3)) + b"\n"
    result = parse(body, content_type="application/x-ndjson; charset=utf-8")
    assert only(result) == []
    assert [e["event_id"] for e in result.events] == ["m0", "m1", "m2"]


def test_ndjson_detected_without_its_content_type():
    body = b'{"type":"page","messageId":"a"}\r\n\n  \n{"type":"page","messageId":"b"}'
    result = parse(body, content_type="text/plain")
    assert only(result) == []
    assert [e["event_id"] for e in result.events] == ["a", "b"]


def test_ndjson_malformed_line_is_one_rejection_with_its_position_in_the_body():
    body = b'{"type":"page"}\n\n{"type": x}\n{"type":"screen"}\n'
    result = parse(body, content_type="application/x-ndjson")
    assert [e["event"] for e in result.events] == ["page", "screen"]
    assert only(result) == [
        (
            1,
            "event 1: malformed JSON at line 3, column 10 (byte 26): "
            "unexpected character, expected a JSON value",
            b'{"type": x}',
        )
    ]


def test_ndjson_line_with_invalid_utf8():
    body = b'{"type":"page"}\n{"type":"p\xffage"}\n'
    result = parse(body, content_type="application/x-ndjson")
    assert only(result) == [
        (1, "event 1: invalid UTF-8 at byte 26: invalid start byte", b'{"type":"p\xffage"}')
    ]


def test_ndjson_line_that_is_not_an_object():
    result = parse(b'[1]\n"x"\n', content_type="application/x-ndjson")
    assert only(result) == [
        (0, "event 0: must be an object, got array", b"[1]"),
        (1, "event 1: must be an object, got string", b'"x"'),
    ]


def test_segment_batch_envelope_on_collect_gives_its_sent_at_and_context():
    body = orjson.dumps(
        {
            "batch": [call(), call(sentAt="2023-11-14T22:13:10Z", context={"ip": "10.0.0.1"})],
            "sentAt": "2023-11-14T22:13:19Z",
            "context": {"ip": "10.0.0.9", "locale": "de"},
        }
    )
    events = parse(body).events
    assert [(e["sent_ts"], e["ip"], e["context"]) for e in events] == [
        (RECEIVED - 1000, "10.0.0.9", {"ip": "10.0.0.9", "locale": "de"}),
        (RECEIVED - 10000, "10.0.0.1", {"ip": "10.0.0.1", "locale": "de"}),
    ]


@pytest.mark.parametrize("endpoint", ["track", "page", "screen", "identify"])
def test_single_call_endpoints_give_the_type(endpoint):
    body = orjson.dumps({"type": "ignored", "event": "Signed Up", "userId": 7})
    (e,) = parse(body, endpoint).events
    assert e["event"] == ("track:Signed Up" if endpoint == "track" else endpoint)
    assert e["user_id"] == "7"


def test_empty_array_and_empty_batch_are_nothing():
    assert parse(b"[]") == ParseResult([], [], None)
    assert parse(b'{"batch": []}', "batch") == ParseResult([], [], None)


def test_rejected_items_keep_their_exact_bytes_and_the_rest_is_accepted():
    body = b'[ {"type":"page"} ,\n  {"type":"page", "properties": [1, 2]} , 3 ]'
    result = parse(body)
    assert [e["event"] for e in result.events] == ["page"]
    assert only(result) == [
        (
            1,
            "event 1: 'properties' must be an object, got array",
            b'{"type":"page", "properties": [1, 2]}',
        ),
        (2, "event 2: must be an object, got number", b"3"),
    ]


# -- whole-body errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "endpoint", "reason"),
    [
        (b"", "collect", "empty body"),
        (b" \r\n\t", "batch", "empty body"),
        (
            b'{"type": "page",}',
            "collect",
            "malformed JSON at line 1, column 16 (byte 15): trailing comma is not allowed",
        ),
        (
            b'[{"name": "\xc3\xa9t\xc3\xa9"}, nope]',
            "collect",
            # columns count characters, bytes count bytes: two 2-byte "é" before
            "malformed JSON at line 1, column 19 (byte 20): invalid literal, expected 'null'",
        ),
        (
            b'{"batch": [{"type": "page"}]',
            "batch",
            "malformed JSON at line 1, column 29 (byte 28): unexpected end of data",
        ),
        (b'{"type": "p\xe9ge"}', "page", "invalid UTF-8 at byte 11: invalid continuation byte"),
        (b'{"x": "\xed\xa0\x80"}', "collect", "invalid UTF-8 at byte 7: invalid continuation byte"),
        (b"42", "collect", "body must be a JSON object or array, got number"),
        (b'"page"', "collect", "body must be a JSON object or array, got string"),
        (b"[]", "track", "body must be a JSON object, got array"),
        (b"[]", "batch", "body must be a JSON object, got array"),
        (b"{}", "batch", "'batch' is required"),
        (b'{"batch": {}}', "batch", "'batch' must be an array, got object"),
        (b'{"batch": [], "context": []}', "batch", "'context' must be an object, got array"),
        (
            b'{"batch": [], "sentAt": "soon"}',
            "batch",
            "'sentAt' is not an ISO-8601 date-time or epoch milliseconds: 'soon'",
        ),
        (
            b'{"type": "page"}\n{"type": "page"',
            "batch",
            "malformed JSON at line 2, column 1 (byte 17): unexpected content after document",
        ),
    ],
)
def test_body_errors(body, endpoint, reason):
    assert parse(body, endpoint) == ParseResult([], [], BodyError(400, reason))


def test_unknown_endpoint_is_the_callers_bug():
    with pytest.raises(ValueError, match="unknown endpoint 'v1/track'"):
        parse(b"{}", "v1/track")


# -- limits ---------------------------------------------------------------------------------


def padded(size: int, **fields: object) -> bytes:
    """A call of exactly `size` bytes."""
    bare = orjson.dumps(call(properties={"pad": ""}, **fields))
    return bare.replace(b'"pad":""', b'"pad":"' + b"x" * (size - len(bare)) + b'"')


def test_body_of_the_limit_is_read_and_one_byte_more_is_413():
    limits = ParseLimits(max_body_bytes=1000, max_event_bytes=1000)
    assert parse(padded(1000), limits=limits).body_error is None
    assert parse(padded(1001), limits=limits) == ParseResult(
        [], [], BodyError(413, "body of 1001 bytes exceeds the limit of 1000 bytes")
    )


def test_default_limits_are_segments():
    assert ParseLimits() == ParseLimits(
        max_event_bytes=32 * 1024,
        max_body_bytes=500 * 1024,
        max_future_skew_ms=24 * 3600 * 1000,
        max_batch_events=2500,
    )


def test_batch_event_of_32kb_is_accepted_and_one_byte_more_rejected_alone():
    exact, over = padded(32 * 1024, messageId="exact"), padded(32 * 1024 + 1, messageId="over")
    body = b'{"batch": [' + exact + b", " + over + b', {"type": "page", "userId": "u"}]}'
    result = parse(body, "batch")
    assert [(e["event_id"], e["event"]) for e in result.events] == [
        ("exact", "track:click"),
        (result.events[1]["event_id"], "page"),
    ]
    assert only(result) == [
        (1, "event 1: 32769 bytes exceeds the limit of 32768 bytes per event", over)
    ]


def test_array_item_over_the_event_limit_is_rejected_with_its_bytes():
    big = padded(40_000)
    result = parse(b"[" + big + b"," + orjson.dumps(call()) + b"]")
    assert len(result.events) == 1
    assert only(result) == [
        (0, "event 0: 40000 bytes exceeds the limit of 32768 bytes per event", big)
    ]


def test_single_call_over_the_event_limit_is_a_rejection_of_the_body():
    assert parse(padded(32 * 1024), "track").events != []
    big = padded(32 * 1024 + 1)
    assert parse(big, "track") == ParseResult(
        [], [Rejection("event 0: 32769 bytes exceeds the limit of 32768 bytes per event", big, 0)]
    )


def test_ndjson_line_over_the_event_limit():
    big = padded(32 * 1024 + 1)
    result = parse(orjson.dumps(call()) + b"\n" + big, content_type="application/x-ndjson")
    assert len(result.events) == 1
    assert only(result) == [
        (1, "event 1: 32769 bytes exceeds the limit of 32768 bytes per event", big)
    ]


def test_more_events_than_a_batch_holds_is_a_body_error():
    limits = ParseLimits(max_batch_events=2)
    body = orjson.dumps([call(), call(), call()])
    assert parse(body, limits=limits).body_error == BodyError(
        400, "batch of 3 events exceeds the limit of 2 events"
    )
    ndjson = b"\n".join([orjson.dumps(call())] * 3)
    assert parse(ndjson, content_type="application/x-ndjson", limits=limits).body_error == (
        BodyError(400, "body of 3 lines exceeds the limit of 2 events")
    )


def test_every_item_is_either_an_event_or_a_rejection():
    items = [call(), 1, call(userId=[]), call(), None, call(timestamp="x")]
    result = parse(orjson.dumps(items))
    assert len(result.events) == 2
    assert [r.index for r in result.rejections] == [1, 2, 4, 5]


def test_generated_ids_are_distinct_uuid4s():
    result = parse(orjson.dumps([{"type": "page"}] * 600))
    ids = [e["event_id"] for e in result.events]
    assert len(set(ids)) == 600
    assert generated_ids(result.events)  # checks each is a canonical uuid4
