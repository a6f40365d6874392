"""Fuzz parse_body and parse_pixel with one invariant: they return results, never raise.

And the results are well-formed: every event is a complete IncomingEvent that serialises to
JSON, every rejection names its index and carries bytes, a body error is a 400 or a 413 and
comes alone; when the body is an array, each item is an event or a rejection.

Inputs: arbitrary bytes; valid bodies mutated byte-wise (flips, cuts, insertions, splices);
valid calls with JSON values of any type in their fields; arbitrary pixel queries. Each input
that ever broke a parser stays below as an explicit `@example` (SQLite's fuzzcheck habit).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from headwater.sources.clickstream.model import IncomingEvent
from headwater.sources.clickstream.parse import (
    ENDPOINTS,
    ParseLimits,
    ParseResult,
    parse_body,
    parse_pixel,
)
from tests.sources.clickstream.parse.helpers import RECEIVED
from tests.sources.clickstream.parse.test_body import TRACKER_CALL
from tests.sources.clickstream.parse.test_segment_spec import BATCH, TRACK

FUZZ = settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: small limits, so that the fuzzer reaches them
SMALL = ParseLimits(max_event_bytes=300, max_body_bytes=2000, max_batch_events=20)
CONTENT_TYPES = st.sampled_from([None, "application/json", "application/x-ndjson", "text/plain"])
SEEDS = [
    orjson.dumps([TRACKER_CALL, {**TRACKER_CALL, "type": "track", "event": "click"}]),
    orjson.dumps(TRACKER_CALL),
    b"\n".join([orjson.dumps(TRACKER_CALL)] * 3),
    BATCH,
    TRACK,
]

EVENT_KEYS = set(IncomingEvent.__annotations__)
REQUEST_KEYS = {"url", "path", "method", "name", "page_id", "video_id", "properties"}


def check(result: object, items: int | None = None) -> None:
    """The invariant, beyond "did not raise"."""
    assert isinstance(result, ParseResult)
    if result.body_error is not None:
        assert result.body_error.status in (400, 413) and result.body_error.reason
        assert result.events == [] and result.rejections == []
        return
    for e in result.events:
        check_event(e)
    for r in result.rejections:
        assert isinstance(r.raw, bytes) and r.raw
        assert r.reason.startswith(f"event {r.index}: ")
    if items is not None:
        assert len(result.events) + len(result.rejections) == items
        assert [r.index for r in result.rejections] == sorted({r.index for r in result.rejections})


def check_event(e: IncomingEvent) -> None:
    assert set(e) == EVENT_KEYS and set(e["request"]) == REQUEST_KEYS
    assert type(e["event_id"]) is str and e["event_id"]
    assert e["event"] in ("page", "screen", "identify") or e["event"].startswith("track:")
    assert e.get("channel") in (None, "web", "mobile", "desktop", "voice")
    for key in ("client_ts", "sent_ts"):
        assert e[key] is None or type(e[key]) is int  # type: ignore[literal-required]
    for key in ("user_id", "anonymous_id", "session_id", "user_agent", "ip", "referrer"):
        value = e[key]  # type: ignore[literal-required]
        assert value is None or (type(value) is str and value)
    for key in ("url", "path", "method", "name", "page_id", "video_id"):
        value = e["request"][key]  # type: ignore[literal-required]
        assert value is None or type(value) is str
    assert type(e["request"]["properties"]) is dict
    assert all(type(k) is str and type(v) is str for k, v in e["campaign"].items())
    assert type(e["traits"]) is dict and type(e["context"]) is dict
    orjson.dumps(e)  # downstream writes it as JSON


@FUZZ
@given(body=st.binary(max_size=600), endpoint=st.sampled_from(ENDPOINTS), ctype=CONTENT_TYPES)
@example(body=b"", endpoint="collect", ctype=None)
@example(body=b"[" * 300 + b"]" * 300, endpoint="collect", ctype=None)
@example(body=b"[" * 2000, endpoint="batch", ctype=None)
@example(body=b'{"batch":[' + b"[" * 300 + b"]" * 300 + b"]}", endpoint="batch", ctype=None)
def test_arbitrary_bytes(body, endpoint, ctype):
    check(parse_body(body, endpoint=endpoint, content_type=ctype, received_ts=RECEIVED))
    check(parse_body(body, endpoint=endpoint, content_type=ctype, received_ts=0, limits=SMALL))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(body)))
        kind = draw(st.sampled_from(["flip", "cut", "insert", "splice", "truncate"]))
        if kind == "flip" and at < len(body):
            body[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del body[at : at + draw(st.integers(1, 40))]
        elif kind == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif kind == "splice":
            token = draw(
                st.sampled_from([b"{", b"}", b"[", b"]", b",", b'"', b"\\u", b"\n", b"null"])
            )
            body[at:at] = token
        else:
            del body[at:]
    return bytes(body)


@FUZZ
@given(body=mutated(), endpoint=st.sampled_from(ENDPOINTS), ctype=CONTENT_TYPES)
def test_mutated_valid_bodies(body, endpoint, ctype):
    check(parse_body(body, endpoint=endpoint, content_type=ctype, received_ts=RECEIVED))
    check(parse_body(body, endpoint=endpoint, content_type=ctype, received_ts=0, limits=SMALL))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["2023-11-14T22:13:20Z", "2015-2-02T00:30:08Z", "1700000000000", "page"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "type", "event", "messageId", "userId", "anonymousId", "sessionId", "session_id",
    "timestamp", "originalTimestamp", "sentAt", "name", "properties", "traits", "context",
    "channel",
]  # fmt: skip
CONTEXT_FIELDS = ["page", "userAgent", "ip", "campaign", "channel", "sessionId", "library"]


@st.composite
def calls(draw: st.DrawFn) -> Any:
    """A valid call with some fields (top level, context, context.page) set to any JSON."""
    call: dict[str, Any] = orjson.loads(orjson.dumps(TRACKER_CALL))
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        call[field] = draw(json_values)
    if type(call.get("context")) is dict:
        for field in draw(st.lists(st.sampled_from(CONTEXT_FIELDS), max_size=2)):
            call["context"][field] = draw(json_values)
        page = call["context"].get("page")
        if type(page) is dict:
            for field in draw(st.lists(st.sampled_from(["url", "path", "referrer"]), max_size=2)):
                page[field] = draw(json_values)
    return call if draw(st.integers(0, 9)) else draw(json_values)


@settings(FUZZ, max_examples=300)  # drawing nested JSON is slow: ~4 s
@given(items=st.lists(calls(), max_size=6), envelope=st.sampled_from(["array", "batch", "lines"]))
@example(items=[{"type": "page", "timestamp": "1" * 5000}], envelope="array")
@example(items=[{"type": "page", "timestamp": "2024-01-01" + " " * 20_000 + "x"}], envelope="array")
@example(items=[{"type": "page", "sessionId": 2**70}], envelope="array")
def test_calls_with_any_json_in_their_fields(items, envelope):
    def dumps(value: object) -> bytes:  # the standard library's: integers beyond 64 bits too
        return json.dumps(value).encode()

    if envelope == "array":
        body, endpoint = dumps(items), "collect"
    elif envelope == "batch":
        body, endpoint = dumps({"batch": items, "context": {"ip": "x"}}), "batch"
    else:
        body, endpoint = b"\n".join(dumps(i) for i in items) or b"{}", "collect"
    ctype = "application/x-ndjson" if envelope == "lines" else "application/json"
    result = parse_body(body, endpoint=endpoint, content_type=ctype, received_ts=RECEIVED)
    check(result, items=len(items) or (1 if envelope == "lines" else 0))


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["t", "e", "mid", "uid", "ts", "st", "ch", "url", "p_x", "utm_a"])
        | st.text(max_size=6),
        st.text(max_size=40) | st.sampled_from(["track", "page", "1700000000000", "9" * 30]),
        max_size=8,
    ),
    now=st.integers(-(2**63), 2**63),
)
@example(query={"e": "\ud800"}, now=0)
@example(query={"url": "http://["}, now=0)
@example(query={"ts": "1" * 5000}, now=0)
def test_arbitrary_pixel_queries(query, now):
    events, rejections = parse_pixel(query, now, SMALL)
    assert len(events) + len(rejections) == 1
    for e in events:
        check_event(e)
    for r in rejections:
        assert r.index == 0 and r.reason.startswith("event 0: ") and isinstance(r.raw, bytes)
