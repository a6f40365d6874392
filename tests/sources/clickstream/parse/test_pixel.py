"""parse_pixel: the GET pixel's query keys to one event, or one rejection."""

from __future__ import annotations

from headwater.sources.clickstream.model import Rejection
from headwater.sources.clickstream.parse import ParseLimits, parse_pixel
from tests.sources.clickstream.parse.helpers import RECEIVED, event, generated_ids


def test_every_key():
    query = {
        "k": "write-key",
        "t": "page",
        "mid": "m-1",
        "uid": "u-1",
        "aid": "a-1",
        "sid": "s-1",
        "url": "https://shop.example/p/42?x=1",
        "ref": "https://www.google.com/",
        "n": "Product",
        "ti": "Product 42 - Shop",
        "pid": "p-42",
        "vid": "v-7",
        "ts": str(RECEIVED - 2000),
        "st": "2023-11-14T22:13:19Z",
        "ch": "web",
        "p_color": "red",
        "tr_plan": "pro",
        "utm_source": "news",
        "utm_medium": "email",
        "utm_campaign": "nov",
        "utm_term": "shoes",
        "utm_content": "top",
        "utm_id": "42",
        "cb": "12345",
    }
    assert parse_pixel(query, RECEIVED) == (
        [
            event(
                event_id="m-1",
                event="page",
                channel="web",
                client_ts=RECEIVED - 2000,
                sent_ts=RECEIVED - 1000,
                user_id="u-1",
                anonymous_id="a-1",
                session_id="s-1",
                request={
                    "url": "https://shop.example/p/42?x=1",
                    "path": "/p/42",
                    "name": "Product",
                    "page_id": "p-42",
                    "video_id": "v-7",
                    "properties": {"color": "red"},
                },
                referrer="https://www.google.com/",
                campaign={
                    "source": "news",
                    "medium": "email",
                    "name": "nov",
                    "term": "shoes",
                    "content": "top",
                    "id": "42",
                },
                traits={"plan": "pro"},
                context={"page": {"title": "Product 42 - Shop"}},
            )
        ],
        [],
    )


def test_email_open_is_a_track_event_with_a_generated_id():
    events, rejections = parse_pixel({"e": "email_open", "uid": "42", "p_mail": "m7"}, RECEIVED)
    assert rejections == []
    assert generated_ids(events) == [
        event(event="track:email_open", user_id="42", request={"properties": {"mail": "m7"}})
    ]


def test_without_keys_it_is_a_page_view_and_empty_values_are_absent():
    events, _ = parse_pixel({"uid": "", "url": "", "path": "/only-path"}, RECEIVED)
    assert generated_ids(events) == [event(event="page", request={"path": "/only-path"})]


def test_identify_with_traits():
    events, _ = parse_pixel({"t": "identify", "uid": "9", "tr_email": "a@b.example"}, RECEIVED)
    assert (events[0]["event"], events[0]["traits"]) == ("identify", {"email": "a@b.example"})


def test_unparseable_url_has_no_path():
    events, _ = parse_pixel({"url": "http://[::1"}, RECEIVED)
    assert (events[0]["request"]["url"], events[0]["request"]["path"]) == ("http://[::1", None)


def rejection(query: dict[str, str], **kwargs: object) -> tuple[str, bytes]:
    events, rejections = parse_pixel(query, RECEIVED, **kwargs)  # type: ignore[arg-type]
    assert events == []
    (r,) = rejections
    assert r.index == 0
    return r.reason, r.raw


def test_refusals_with_the_query_as_raw_bytes():
    assert rejection({"t": "group", "k": "key"}) == (
        "event 0: 't' must be one of 'track', 'page', 'screen', 'identify', got 'group'",
        b"t=group&k=key",
    )
    assert rejection({"t": "track"})[0] == "event 0: 'e' is required for a track event"
    assert rejection({"ch": "tv"})[0] == (
        "event 0: 'ch' must be one of 'web', 'mobile', 'desktop', 'voice', got 'tv'"
    )
    assert rejection({"ts": "soon"})[0] == (
        "event 0: 'ts' is not an ISO-8601 date-time or epoch milliseconds: 'soon'"
    )
    assert rejection({"st": "2023-02-30"})[0] == (
        "event 0: 'st' is not a valid date-time (day is out of range for month): '2023-02-30'"
    )
    assert rejection({"ts": str(RECEIVED + 86_400_001)}) == (
        "event 0: 'ts' is 86400001 ms after the receive time (limit 86400000 ms)",
        b"ts=1700086400001",
    )
    assert rejection({"ts": str(RECEIVED + 5000), "st": str(RECEIVED - 86_400_000)})[0] == (
        "event 0: 'ts' is 86405000 ms after 'st' (limit 86400000 ms)"
    )


def test_query_of_the_event_limit_is_read_and_one_byte_more_rejected():
    limits = ParseLimits(max_event_bytes=100)
    exact = {"e": "x", "p_pad": "y" * (100 - len("e=x&p_pad="))}
    assert parse_pixel(exact, RECEIVED, limits)[1] == []
    over = {**exact, "p_pad": exact["p_pad"] + "y"}
    assert rejection(over, limits=limits)[0] == (
        "event 0: query of 101 bytes exceeds the limit of 100 bytes per event"
    )


def test_lone_surrogate_is_refused_not_raised():
    assert parse_pixel({"e": "\ud800"}, RECEIVED) == (
        [],
        [Rejection("event 0: the query is not valid UTF-8 (a lone surrogate)", b"e=%ED%A0%80", 0)],
    )
