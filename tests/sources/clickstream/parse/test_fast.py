"""The fast path (fast.py) takes valid bodies and returns exactly what the precise path returns.

Invariants, on generated bodies of every shape (one call, an array, a batch, NDJSON), on every
endpoint, under the default and under small limits:
  - `parse_body` equals `parse_body` with the fast path switched off (the precise path alone);
  - a body whose calls are all valid, in the types wire.py describes, is taken by the fast path.
Generated event ids come from a counter in both runs, so that results compare with ==.

Then the decoder agreement that wire.py relies on, value by value: where msgspec's typed decode
and orjson.loads differ (integers beyond 64 bits, overflowing floats, skipped fields with bad
UTF-8), the fast path declines and the precise path's answer (often a body error) stands.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from unittest.mock import patch

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from headwater.sources.clickstream.parse import ParseLimits, ParseResult, body, event, fast
from headwater.sources.clickstream.parse import parse_body as parse_body_fn
from headwater.sources.clickstream.parse.wire import BODY, JSON_DEPTH
from tests.sources.clickstream.parse.bodies import (
    bench_batch,
    segment_batch,
    tracker_batch,
    usual_bodies,
)
from tests.sources.clickstream.parse.helpers import RECEIVED
from tests.sources.clickstream.parse.test_body import TRACKER_CALL
from tests.sources.clickstream.parse.test_segment_spec import BATCH, IDENTIFY, PAGE, TRACK

PROPERTY = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LIMITS = ParseLimits()
#: small limits, so that sizes are measured (bodies over 300 bytes) and counts reached
SMALL = ParseLimits(max_event_bytes=300, max_body_bytes=6000, max_batch_events=4)
NDJSON = "application/x-ndjson"


# -- running both paths ---------------------------------------------------------------------


@contextmanager
def counted_ids() -> Iterator[None]:
    """Generated event ids "id-0", "id-1", ... in fast.py and event.py alike."""
    counter = itertools.count()

    def next_id() -> str:
        return f"id-{next(counter)}"

    with patch.object(fast, "new_event_id", next_id), patch.object(event, "new_event_id", next_id):
        yield


def parse_both(
    data: bytes, endpoint: str, content_type: str | None, limits: ParseLimits
) -> tuple[ParseResult, ParseResult, bool]:
    """(parse_body's result, the precise path's result, whether the fast path took the body)."""
    answers: list[ParseResult | None] = []
    read_valid = body.read_valid

    def spy(*args: Any, **kwargs: Any) -> ParseResult | None:
        answers.append(read_valid(*args, **kwargs))
        return answers[-1]

    def run() -> ParseResult:
        return parse_body_fn(
            data, endpoint=endpoint, content_type=content_type, received_ts=RECEIVED, limits=limits
        )

    with counted_ids(), patch.object(body, "read_valid", spy):
        got = run()
    with counted_ids(), patch.object(body, "read_valid", lambda *a, **k: None):
        want = run()
    return got, want, bool(answers) and answers[0] is not None


def assert_taken_and_equal(
    data: bytes, endpoint: str, content_type: str | None = "application/json", limits=LIMITS
) -> ParseResult:
    got, want, taken = parse_both(data, endpoint, content_type, limits)
    assert taken, (want.body_error, want.rejections[:1])
    assert got == want
    assert want.rejections == [] and want.body_error is None
    return got


# -- generated valid calls ------------------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)
NON_EMPTY = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=10)
I64 = st.integers(-(2**63), 2**63 - 1)
IDS = NON_EMPTY | I64 | st.sampled_from(["019mr8mf4r", "a-1", "7f3e9a52-2f1c-4d89"])
LEAVES = st.none() | st.booleans() | I64 | st.floats(allow_nan=False, allow_infinity=False) | TEXT
#: the window timestamps are drawn from: less than the skew limit (24 h) wide, before RECEIVED
EARLIEST = datetime.fromtimestamp(RECEIVED / 1000, UTC) - timedelta(hours=20)
LATEST = datetime.fromtimestamp(RECEIVED / 1000, UTC)


def json_values(depth: int) -> st.SearchStrategy[Any]:
    """Any JSON value nested at most `depth` levels, with integers of 64 bits."""
    if depth == 0:
        return LEAVES
    inner = json_values(depth - 1)
    return LEAVES | st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3)


VALUES = json_values(3)
OBJECTS = st.dictionaries(TEXT, VALUES, max_size=4)


@st.composite
def timestamps(draw: st.DrawFn) -> object:
    """One instant of the window, written as clients write it (ISO-8601 forms, epoch ms)."""
    at = draw(st.datetimes(EARLIEST.replace(tzinfo=None), LATEST.replace(tzinfo=None)))
    at = at.replace(tzinfo=UTC)
    ms = int(at.timestamp() * 1000)
    form = draw(st.integers(0, 8))
    if form == 0:  # JavaScript's toISOString()
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    if form == 1:
        offset = timezone(timedelta(minutes=draw(st.integers(-12 * 60, 14 * 60))))
        spec = draw(st.sampled_from(["seconds", "milliseconds", "microseconds"]))
        return at.astimezone(offset).isoformat(timespec=spec)
    if form == 2:  # no offset: UTC
        return at.replace(tzinfo=None).isoformat()
    if form == 3:  # lenient: one-digit fields, a space, "+hhmm"
        return f"{at.year}-{at.month}-{at.day} {at.hour}:{at.minute:02d}:{at.second:02d}+0000"
    if form == 4:
        return ms
    if form == 5:
        return float(ms) + draw(st.sampled_from([0.0, 0.25, 0.999]))
    if form == 6:
        return str(ms)
    if form == 7:
        return at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return at.isoformat()


@st.composite
def pages(draw: st.DrawFn) -> dict[str, Any]:
    page: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(["url", "path", "referrer", "title", "search"]))):
        page[key] = draw(st.none() | TEXT | st.sampled_from(["https://shop.example/p/1?a=b"]))
    if draw(st.booleans()):
        page["method"] = draw(st.sampled_from(["GET", "POST", ""]) | VALUES)
    return page


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    """A call's (or a batch's) context: every lifted field in a valid form, others anything."""
    choices = {
        "page": st.none() | pages(),
        "userAgent": st.none() | TEXT,
        "ip": st.none() | TEXT,
        "campaign": st.none() | OBJECTS | st.just({"source": "news", "medium": 7}),
        "channel": st.sampled_from(["web", "browser", "mobile", "desktop", "voice", "tv"]) | VALUES,
        "sessionId": st.sampled_from([None, ""]) | TEXT | I64,
        "library": st.none()
        | st.fixed_dictionaries({"name": st.sampled_from(["headwater.js", "analytics.js"])})
        | VALUES,
        "locale": VALUES,
        "traits": OBJECTS,
    }
    keys = draw(st.lists(st.sampled_from(sorted(choices)), unique=True))
    return {key: draw(choices[key]) for key in keys}


#: the fields of a call besides type/event/ids, each with its valid values
CALL_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "messageId": st.none() | IDS,
    "sessionId": st.none() | IDS,
    "session_id": st.none() | IDS,
    "timestamp": st.none() | timestamps(),
    "originalTimestamp": st.none() | timestamps(),
    "sentAt": st.none() | timestamps(),
    "name": st.none() | TEXT,
    "properties": st.none()
    | OBJECTS
    | st.fixed_dictionaries(
        {},
        optional={
            "page_id": LEAVES,
            "pageId": LEAVES,
            "video_id": LEAVES,
            "videoId": LEAVES,
            "url": st.none() | TEXT,
            "path": st.none() | TEXT,
            "referrer": st.none() | TEXT,
        },
    ),
    "traits": st.none() | OBJECTS,
    "context": st.none() | contexts(),
    "channel": st.sampled_from(["web", "browser", "mobile", "tv"]) | VALUES,
    "integrations": VALUES,
    "_metadata": VALUES,
    "writeKey": VALUES,
    "version": VALUES,
    "options": VALUES,
}


@st.composite
def valid_calls(draw: st.DrawFn, endpoint: str = "collect") -> dict[str, Any]:
    """A call that event.py accepts on `endpoint` and that wire.py's types admit (so the fast
    path takes it)."""
    call: dict[str, Any] = {}
    kind = draw(st.sampled_from(["track", "page", "screen", "identify", None]))
    if kind is not None:
        call["type"] = kind
    if endpoint in ("track", "page", "screen", "identify"):
        kind = endpoint
    if kind in ("track", None):
        call["event"] = draw(st.sampled_from(["click", "Signed Up", "page", "screen"]) | NON_EMPTY)
    for field in draw(st.lists(st.sampled_from(sorted(CALL_FIELDS)), unique=True)):
        call[field] = draw(CALL_FIELDS[field])
    ids = draw(st.sampled_from([("userId",), ("anonymousId",), ("userId", "anonymousId"), ()]))
    if endpoint != "collect" and not ids:
        ids = ("anonymousId",)
    for field in ids:
        call[field] = draw(IDS)
    keys = draw(st.permutations(list(call)))  # any order of fields
    return {key: call[key] for key in keys}


@st.composite
def valid_bodies(draw: st.DrawFn) -> tuple[bytes, str, str | None]:
    """(body, endpoint, content type) of valid calls, in any shape and on any endpoint."""
    shape = draw(st.sampled_from(["object", "array", "batch", "lines"]))
    if shape == "object":
        endpoint = draw(st.sampled_from(["collect", "track", "page", "screen", "identify"]))
    else:
        endpoint = draw(st.sampled_from(["batch", "collect"])) if shape == "batch" else "collect"
    calls = draw(st.lists(valid_calls(endpoint), min_size=1, max_size=4))
    encode = draw(st.sampled_from(["orjson", "ascii", "indented"]))

    def dumps(value: object) -> bytes:
        if encode == "orjson":
            return orjson.dumps(value)
        if encode == "ascii":  # \uXXXX escapes, surrogate pairs included
            return json.dumps(value).encode()
        return json.dumps(value, indent=1, ensure_ascii=False).encode()

    content_type: str | None = "application/json"
    if shape == "object":
        data = dumps(calls[0])
    elif shape == "array":
        data = dumps(calls)
    elif shape == "batch":
        envelope: dict[str, Any] = {"batch": calls}
        if draw(st.booleans()):
            envelope["context"] = draw(st.none() | contexts())
        if draw(st.booleans()):
            envelope["sentAt"] = draw(st.none() | timestamps())
        if draw(st.booleans()):
            envelope["writeKey"] = "KEY"
        data = dumps(envelope)
    else:
        content_type = draw(st.sampled_from([NDJSON, "application/jsonl; charset=utf-8"]))
        separator = draw(st.sampled_from([b"\n", b"\r\n", b"\n\n"]))
        end = draw(st.sampled_from([b"", b"\n"]))
        data = separator.join(orjson.dumps(call) for call in calls) + end
    return data, endpoint, content_type


@PROPERTY
@given(case=valid_bodies())
@example(case=(b'{"type":"page","context":{"sessionId":""}}', "collect", None))
@example(case=(b'{"type":"page","channel":"browser","context":{"ip":""}}', "collect", None))
@example(
    case=(
        b'{"batch":[{"type":"page","context":{"ip":"a"}},{"type":"page"}],'
        b'"context":{"ip":"b","locale":"de"},"sentAt":"2023-11-14T22:13:19Z"}',
        "collect",
        None,
    )
)
def test_valid_bodies_are_taken_and_read_as_the_precise_path_reads_them(case):
    data, endpoint, content_type = case
    assert_taken_and_equal(data, endpoint, content_type)


@PROPERTY
@given(case=valid_bodies())
def test_under_small_limits_both_paths_agree(case):
    data, endpoint, content_type = case
    got, want, _ = parse_both(data, endpoint, content_type, SMALL)
    assert got == want


# -- generated bodies with anything in them ---------------------------------------------------

#: raw JSON put where a value is: literals on which decoders may disagree, bad UTF-8, deep nests
RAW = [
    b"1e400", b"-1E+400", b"1e-400", b"1E2", b"-0", b"-0.0", b"0.1", b"1.7976931348623157e308",
    b"18446744073709551615", b"18446744073709551616", b"9223372036854775807",
    b"9223372036854775808", b"-9223372036854775808", b"-9223372036854775809",
    b"1" * 400, b"0." + b"0" * 400 + b"1", b"123456789012345678901234567890.5",
    b'"\xff"', b'"\xed\xa0\x80"', b'"caf\xc3\xa9"', b'"\\ud83d\\ude00"', b'"\\u0000"', b"true",
    b"[" * (JSON_DEPTH + 2) + b"]" * (JSON_DEPTH + 2), b'{"a": ' * 10 + b"1" + b"}" * 10,
]  # fmt: skip
#: unbounded JSON: deep, integers beyond 64 bits, any floats
ANY_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
    | st.sampled_from(["2023-11-14T22:13:20Z", "2015-2-02T00:30:08Z", "1700000000000", "", "x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=10,
)
ODD_FIELDS = [
    "type", "event", "messageId", "userId", "anonymousId", "sessionId", "session_id",
    "timestamp", "originalTimestamp", "sentAt", "name", "properties", "traits", "context",
    "channel", "integrations", "unknownField", "batch",
]  # fmt: skip
ODD_CONTEXT = ["page", "userAgent", "ip", "campaign", "channel", "sessionId", "library", "other"]
PLACEHOLDER = "\x00raw\x00"


@st.composite
def odd_calls(draw: st.DrawFn) -> Any:
    """A valid call with a few fields (top level, context, its page) set to anything."""
    call = draw(valid_calls(draw(st.sampled_from(body.ENDPOINTS))))
    for field in draw(st.lists(st.sampled_from(ODD_FIELDS), max_size=2)):
        call[field] = draw(ANY_VALUES | st.just(PLACEHOLDER))
    context = call.get("context")
    if type(context) is dict:
        for field in draw(st.lists(st.sampled_from(ODD_CONTEXT), max_size=2)):
            context[field] = draw(ANY_VALUES | st.just(PLACEHOLDER))
    if draw(st.integers(0, 5)) == 0:
        call["timestamp"] = draw(st.sampled_from(["2099-01-01T00:00:00Z", 4_000_000_000_000]))
    return call if draw(st.integers(0, 15)) else draw(ANY_VALUES)


@st.composite
def odd_bodies(draw: st.DrawFn) -> tuple[bytes, str, str | None]:
    shape = draw(st.sampled_from(["object", "array", "batch", "lines"]))
    endpoint = draw(st.sampled_from(body.ENDPOINTS))
    calls = draw(st.lists(odd_calls(), min_size=1, max_size=4))
    content_type = draw(st.sampled_from(["application/json", NDJSON, None]))
    if shape == "object":
        data = json.dumps(calls[0]).encode()
    elif shape == "array":
        data = json.dumps(calls).encode()
    elif shape == "batch":
        envelope = {"batch": calls, "context": draw(ANY_VALUES), "sentAt": draw(ANY_VALUES)}
        data = json.dumps(envelope).encode()
    else:
        data = b"\n".join(json.dumps(call).encode() for call in calls)
    placeholder = json.dumps(PLACEHOLDER).encode()
    while placeholder in data:
        data = data.replace(placeholder, draw(st.sampled_from(RAW)), 1)
    return data, endpoint, content_type


@settings(PROPERTY, max_examples=300)  # drawing nested JSON is slow: ~5 s
@given(case=odd_bodies(), small=st.booleans())
@example(case=(b'{"type":"page","integrations":1e400}', "collect", None), small=False)
@example(case=(b'{"type":"page","writeKey":"\xff"}', "collect", None), small=False)
@example(case=(b'[{"type":"page","properties":{"n":1e19}}]', "collect", None), small=False)
@example(case=(b'[{"type":"page","properties":{"n":%s}}]' % RAW[9], "collect", None), small=False)
def test_any_body_is_read_as_the_precise_path_reads_it(case, small):
    data, endpoint, content_type = case
    got, want, _ = parse_both(data, endpoint, content_type, SMALL if small else LIMITS)
    assert got == want


# -- the bodies clients send ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "endpoint"),
    [
        (bench_batch(), "batch"),
        (tracker_batch(), "collect"),
        (segment_batch(), "batch"),
        (orjson.dumps(TRACKER_CALL), "collect"),
        (orjson.dumps([TRACKER_CALL] * 3), "collect"),
        (BATCH, "batch"),
        (BATCH, "collect"),
        (TRACK, "track"),
        (PAGE, "page"),
        (PAGE, "screen"),
        (IDENTIFY, "identify"),
    ],
    ids=lambda value: "body" if isinstance(value, bytes) else None,  # bodies hold random ids
)
def test_the_bodies_clients_send_take_the_fast_path(data, endpoint):
    assert_taken_and_equal(data, endpoint)


@pytest.mark.parametrize(
    ("name", "data", "endpoint", "events"),
    usual_bodies(),
    ids=lambda value: "body" if isinstance(value, bytes) else None,  # bodies hold random ids
)
def test_the_usual_bodies_take_the_fast_path_whole(name, data, endpoint, events):
    """The bodies bench/parse_cost.py times: taken by the fast path, every event read."""
    assert len(assert_taken_and_equal(data, endpoint).events) == events, name


def test_ndjson_with_its_content_type_takes_the_fast_path():
    data = b"\n".join([orjson.dumps(TRACKER_CALL)] * 3) + b"\n"
    assert len(assert_taken_and_equal(data, "collect", NDJSON).events) == 3


def test_a_batch_over_the_event_limit_has_its_calls_measured():
    calls = orjson.loads(tracker_batch()) * 2  # 100 calls, ~63 KB
    assert len(assert_taken_and_equal(orjson.dumps(calls), "collect").events) == 100
    huge = {**TRACKER_CALL, "properties": {"pad": "x" * 40_000}}
    got, want, taken = parse_both(orjson.dumps([TRACKER_CALL, huge]), "collect", None, LIMITS)
    assert not taken and got == want and [r.index for r in got.rejections] == [1]


# -- what the fast path declines --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "endpoint", "content_type"),
    [
        (b'[{"type":"page"},{"type":"page","properties":[1]}]', "collect", None),  # a rejection
        (b'{"type":"page"}', "page", None),  # no userId or anonymousId on Segment's endpoint
        (b'{"type":"page","userId":""}', "collect", None),  # "" is an absent id
        (b'{"type":"page","userId":4.0}', "collect", None),  # a float id
        (b'{"type":"page","pageTitle":"x"}', "collect", None),  # an unknown field
        (b'{"type":"page","timestamp":"2099-01-01T00:00:00Z"}', "collect", None),  # too far ahead
        (b'{"type":"page"}\n{"type":"screen"}', "collect", None),  # NDJSON, detected
        (b'{"batch":null}', "collect", None),
        (b'{"type":"page"}', "batch", None),
        (b"[]", "track", None),
        (b'{"type":"page","integrations":1e400}', "collect", None),  # orjson: not a double
        (b'{"type":"page","writeKey":"\xff"}', "collect", None),  # orjson: invalid UTF-8
        (b'{"type":"page","properties":{"n":18446744073709551616}}', "collect", None),
        # the same hazards where msgspec would skip a field (wire.py's Rule 1), in every shape
        (b'[{"type":"page","x":1e400}]', "collect", None),
        (b'[{"type":"page","x":"\xff"}]', "collect", None),
        (b'{"batch":[{"type":"page","userId":"u","x":1e400}]}', "batch", None),
        (b'{"batch":[{"type":"page","userId":"u"}],"x":"\xed\xa0\x80"}', "batch", None),
        (b'{"type":"page","x":1e400}\n{"type":"page"}', "collect", NDJSON),
        (b'{"type":"page","x":"\xff"}', "track", None),
    ],
)
def test_what_the_fast_path_declines_is_read_by_the_precise_path(data, endpoint, content_type):
    got, want, taken = parse_both(data, endpoint, content_type, LIMITS)
    assert not taken
    assert got == want


def test_skipped_fields_would_hide_what_orjson_refuses():
    """Why wire.py lists the extra fields instead of skipping unknown ones (its Rule 1)."""
    for data in (b'{"type":"page","x":1e400}', b'{"type":"page","x":"\xff"}'):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(data)
        result = parse_body_fn(data, endpoint="collect", content_type=None, received_ts=RECEIVED)
        assert result.body_error is not None


@pytest.mark.parametrize(
    "literal",
    [
        b"0", b"-0", b"1", b"-1", b"9223372036854775807", b"-9223372036854775808", b"0.1",
        b"-0.0", b"1E2", b"1e-2", b"1.5e+3", b"1e-400", b"2.2250738585072011e-308",
        b"1.7976931348623157e308", b"123456789012345678901234567890.5", b"4.9e-324",
        b"0." + b"0" * 400 + b"1", b"3.141592653589793238462643383279",
    ],
)  # fmt: skip
def test_numbers_decode_to_what_orjson_decodes(literal):
    data = b'{"type":"page","properties":{"n":' + literal + b"}}"
    typed = BODY.decode(data).properties["n"]
    loaded = orjson.loads(data)["properties"]["n"]
    assert (type(typed), repr(typed)) == (type(loaded), repr(loaded))


@given(number=st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**63), 2**63 - 1))
@PROPERTY
def test_generated_numbers_decode_to_what_orjson_decodes(number):
    texts = {repr(number), json.dumps(number)}
    if type(number) is float:
        texts.add(f"{number:.17e}")
    for text in texts:
        data = b'{"type":"page","properties":{"n":' + text.encode() + b"}}"
        typed = BODY.decode(data).properties["n"]
        loaded = orjson.loads(data)["properties"]["n"]
        assert (type(typed), repr(typed)) == (type(loaded), repr(loaded))
