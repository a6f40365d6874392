"""EventReader: one call's fields to an IncomingEvent, and the exact reason for each refusal."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.sources.clickstream.parse.event import EventReader, Invalid
from tests.sources.clickstream.parse.helpers import RECEIVED, event

DAY = 24 * 3600 * 1000


def reader(**options: Any) -> EventReader:
    settings: dict[str, Any] = {
        "forced_type": None,
        "identity_required": False,
        "received_ts": RECEIVED,
        "max_future_skew_ms": DAY,
    }
    settings.update(options)
    return EventReader(**settings)


def read(call: object, index: int = 3, **options: Any) -> Any:
    return reader(**options).read(call, index)


def refusal(call: object, **options: Any) -> str:
    with pytest.raises(Invalid) as caught:
        read(call, **options)
    return str(caught.value)


# -- the event's name ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        ({"type": "track", "event": "Signed Up"}, "track:Signed Up"),
        ({"type": "page"}, "page"),
        ({"type": "screen", "event": "ignored"}, "screen"),
        ({"type": "identify"}, "identify"),
        ({"event": "Signed Up"}, "track:Signed Up"),  # no type: event names a track call
        ({"event": "page"}, "page"),  # ... or the call itself
        ({"event": "identify"}, "identify"),
    ],
)
def test_event_name(call, name):
    assert read(call)["event"] == name


def test_forced_type_wins_over_the_calls():
    assert read({"type": "identify", "event": "x"}, forced_type="track")["event"] == "track:x"
    assert read({"type": "track"}, forced_type="page")["event"] == "page"


# -- values --------------------------------------------------------------------------------


def test_every_field_of_a_full_call():
    call = {
        "type": "page",
        "messageId": "m-1",
        "userId": "u-1",
        "anonymousId": "a-1",
        "session_id": "s-1",
        "name": "Home",
        "timestamp": "2023-11-14T22:13:00.000Z",
        "sentAt": "2023-11-14T22:13:10.000Z",
        "properties": {"page_id": 17, "videoId": "v-9", "color": "red"},
        "traits": {"plan": "pro"},
        "context": {
            "page": {"url": "https://a.example/x", "path": "/x", "referrer": "", "method": "POST"},
            "userAgent": "UA/1",
            "ip": "192.0.2.1",
            "campaign": {"source": "news", "medium": "email", "name": "nov", "id": 5},
            "channel": "mobile",
            "app": {"name": "Shop", "version": "3.2"},
        },
    }
    assert read(call) == event(
        event_id="m-1",
        event="page",
        channel="mobile",
        client_ts=RECEIVED - 20000,
        sent_ts=RECEIVED - 10000,
        user_id="u-1",
        anonymous_id="a-1",
        session_id="s-1",
        request={
            "url": "https://a.example/x",
            "path": "/x",
            "method": "POST",
            "name": "Home",
            "page_id": "17",
            "video_id": "v-9",
            "properties": call["properties"],
        },
        user_agent="UA/1",
        ip="192.0.2.1",
        referrer=None,  # "" is absent
        campaign={"source": "news", "medium": "email", "name": "nov", "id": "5"},
        traits={"plan": "pro"},
        context=call["context"],
    )


@pytest.mark.parametrize(
    ("value", "expected"), [(42, "42"), (4.0, "4"), (1.5, "1.5"), ("", None), (None, None)]
)
def test_ids_may_be_numbers(value, expected):
    e = read({"type": "page", "userId": value, "anonymousId": value, "sessionId": value})
    assert (e["user_id"], e["anonymous_id"], e["session_id"]) == (expected,) * 3


def test_message_id_number_is_kept_as_a_string_and_absent_one_generated():
    assert read({"type": "page", "messageId": 12})["event_id"] == "12"
    assert len(read({"type": "page", "messageId": ""})["event_id"]) == 36


def test_session_id_from_top_level_then_snake_case_then_context():
    ctx = {"sessionId": 3}
    assert (
        read({"type": "page", "sessionId": "1", "session_id": "2", "context": ctx})["session_id"]
        == "1"
    )
    assert read({"type": "page", "session_id": "2", "context": ctx})["session_id"] == "2"
    assert read({"type": "page", "context": ctx})["session_id"] == "3"  # RudderStack's number


def test_original_timestamp_is_rudderstacks_timestamp():
    e = read({"type": "page", "originalTimestamp": "2023-11-14T22:13:19.999Z"})
    assert e["client_ts"] == RECEIVED - 1


def test_batch_context_is_merged_under_the_calls_own():
    r = reader(batch_context={"ip": "1.1.1.1", "locale": "de"}, batch_sent_ts=RECEIVED - 5)
    a = r.read({"type": "page", "context": {"ip": "2.2.2.2"}}, 0)
    b = r.read({"type": "page"}, 1)
    assert (a["ip"], a["context"], a["sent_ts"]) == (
        "2.2.2.2",
        {"ip": "2.2.2.2", "locale": "de"},
        RECEIVED - 5,
    )
    assert (b["ip"], b["context"]) == ("1.1.1.1", {"ip": "1.1.1.1", "locale": "de"})
    assert b["context"] is not r.read({"type": "page"}, 2)["context"]  # each event its own


def test_page_call_without_context_page_takes_url_from_properties():
    props = {"url": "https://a.example/", "path": "/", "referrer": "https://b.example/"}
    e = read({"type": "page", "properties": props})
    assert (e["request"]["url"], e["request"]["path"], e["referrer"]) == (
        "https://a.example/",
        "/",
        "https://b.example/",
    )
    assert read({"type": "track", "event": "x", "properties": props})["request"]["url"] is None


def test_method_is_get_for_the_trackers_pages_only():
    page = {"url": "https://a.example/"}
    tracker = {"page": page, "library": {"name": "headwater.js", "version": "0.1.0"}}
    other = {"page": page, "library": {"name": "analytics.js"}}
    assert read({"type": "page", "context": tracker})["request"]["method"] == "GET"
    assert read({"type": "page", "context": other})["request"]["method"] is None


@pytest.mark.parametrize(
    ("given", "channel"),
    [("web", "web"), ("browser", "web"), ("mobile", "mobile"), ("server", None), (7, None)],
)
def test_channel_from_context_or_top_level(given, channel):
    assert read({"type": "page", "context": {"channel": given}})["channel"] == channel
    assert read({"type": "page", "channel": given})["channel"] == channel


def test_campaign_keeps_strings_and_numbers_only():
    campaign = {"source": "a", "term": 3, "content": None, "name": ["x"]}
    assert read({"type": "page", "context": {"campaign": campaign}})["campaign"] == {
        "source": "a",
        "term": "3",
    }


# -- time ----------------------------------------------------------------------------------


def test_future_timestamp_within_the_skew_is_kept():
    e = read({"type": "page", "timestamp": RECEIVED + DAY})
    assert e["client_ts"] == RECEIVED + DAY


def test_timestamp_too_far_after_the_receive_time_is_refused():
    assert refusal({"type": "page", "timestamp": RECEIVED + DAY + 1}) == (
        "event 3: 'timestamp' is 86400001 ms after the receive time (limit 86400000 ms)"
    )


def test_a_wrong_client_clock_is_corrected_not_refused():
    # the device's clock runs 3 days ahead: timestamp and sentAt alike
    ahead = 3 * DAY
    e = read({"type": "page", "timestamp": RECEIVED + ahead - 500, "sentAt": RECEIVED + ahead})
    assert (e["client_ts"], e["sent_ts"]) == (RECEIVED + ahead - 500, RECEIVED + ahead)


def test_timestamp_too_far_after_sent_at_is_refused():
    call = {"type": "page", "originalTimestamp": RECEIVED + 2 * DAY, "sentAt": RECEIVED}
    assert refusal(call, max_future_skew_ms=DAY) == (
        "event 3: 'originalTimestamp' is 172800000 ms after 'sentAt' (limit 86400000 ms)"
    )


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        ([], "must be an object, got array"),
        ("page", "must be an object, got string"),
        ({}, "'type' is required"),
        ({"type": 1}, "'type' must be a string, got number"),
        ({"type": None, "event": 1}, "'event' must be a string, got number"),
        (
            {"type": "group"},
            "'type' must be one of 'track', 'page', 'screen', 'identify', got 'group'",
        ),
        ({"type": "track"}, "'event' is required for a track call"),
        ({"type": "track", "event": ""}, "'event' must not be empty"),
        ({"type": "track", "event": {"a": 1}}, "'event' must be a string, got object"),
        ({"type": "page", "userId": True}, "'userId' must be a string or number, got boolean"),
        (
            {"type": "page", "anonymousId": {}},
            "'anonymousId' must be a string or number, got object",
        ),
        ({"type": "page", "sessionId": []}, "'sessionId' must be a string or number, got array"),
        ({"type": "page", "session_id": []}, "'session_id' must be a string or number, got array"),
        (
            {"type": "page", "context": {"sessionId": False}},
            "'context.sessionId' must be a string or number, got boolean",
        ),
        ({"type": "page", "messageId": []}, "'messageId' must be a string or number, got array"),
        ({"type": "page", "properties": [1, 2]}, "'properties' must be an object, got array"),
        ({"type": "page", "traits": "vip"}, "'traits' must be an object, got string"),
        ({"type": "page", "name": 5}, "'name' must be a string, got number"),
        ({"type": "page", "context": "web"}, "'context' must be an object, got string"),
        (
            {"type": "page", "context": {"page": "/"}},
            "'context.page' must be an object, got string",
        ),
        (
            {"type": "page", "context": {"page": {"url": 1}}},
            "'context.page.url' must be a string, got number",
        ),
        (
            {"type": "page", "context": {"page": {"path": ["/"]}}},
            "'context.page.path' must be a string, got array",
        ),
        (
            {"type": "page", "context": {"page": {"referrer": {}}}},
            "'context.page.referrer' must be a string, got object",
        ),
        (
            {"type": "page", "properties": {"url": 3}},
            "'properties.url' must be a string, got number",
        ),
        (
            {"type": "page", "context": {"userAgent": 1}},
            "'context.userAgent' must be a string, got number",
        ),
        ({"type": "page", "context": {"ip": 1}}, "'context.ip' must be a string, got number"),
        (
            {"type": "page", "context": {"campaign": "x"}},
            "'context.campaign' must be an object, got string",
        ),
        (
            {"type": "page", "timestamp": True},
            "'timestamp' must be a string or number, got boolean",
        ),
        (
            {"type": "page", "timestamp": "yesterday"},
            "'timestamp' is not an ISO-8601 date-time or epoch milliseconds: 'yesterday'",
        ),
        (
            {"type": "page", "timestamp": "2023-02-30T00:00:00Z"},
            "'timestamp' is not a valid date-time (day is out of range for month): "
            "'2023-02-30T00:00:00Z'",
        ),
        (
            {"type": "page", "originalTimestamp": 1e300},
            "'originalTimestamp' is out of range for epoch milliseconds: 1e+300",
        ),
        ({"type": "page", "sentAt": []}, "'sentAt' must be a string or number, got array"),
    ],
)
def test_refusal_names_the_index_and_the_field(call, reason):
    assert refusal(call) == f"event 3: {reason}"


def test_identity_is_required_only_when_asked():
    assert read({"type": "page"})["anonymous_id"] is None
    assert refusal({"type": "page", "userId": ""}, identity_required=True) == (
        "event 3: 'userId' or 'anonymousId' is required"
    )
    assert read({"type": "page", "anonymousId": 0}, identity_required=True)["anonymous_id"] == "0"
