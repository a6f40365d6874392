"""Segment's HTTP tracking API examples, as its documentation prints them, parse unchanged.

The bodies are those of https://segment.com/docs/connections/sources/catalog/libraries/server/
http-api/ (identify, track, page, screen, batch), whitespace included. They carry no messageId,
so each event gets a generated uuid4.
"""

from __future__ import annotations

from headwater.sources.clickstream.parse import ParseResult
from tests.sources.clickstream.parse.helpers import event, generated_ids, parse

IDENTIFY = b"""{
  "userId": "019mr8mf4r",
  "traits": {
    "email": "pgibbons@example.com",
    "name": "Peter Gibbons",
    "industry": "Technology"
  },
  "context": {
    "ip": "24.5.68.47"
  },
  "timestamp": "2012-12-02T00:30:08.276Z",
  "writeKey": "YOUR_WRITE_KEY"
}"""

TRACK = b"""{
  "userId": "019mr8mf4r",
  "event": "Item Purchased",
  "properties": {
    "name": "Leap to Conclusions Mat",
    "revenue": 14.99
  },
  "context": {
    "ip": "24.5.68.47"
  },
  "timestamp": "2012-12-02T00:30:12.984Z",
  "writeKey": "YOUR_WRITE_KEY"
}"""

PAGE = b"""{
  "userId": "019mr8mf4r",
  "name": "Tracking HTTP API",
  "timestamp": "2012-12-02T00:31:29.738Z",
  "writeKey": "YOUR_WRITE_KEY"
}"""

BATCH = b"""{
  "batch": [
    {
      "type": "identify",
      "userId": "019mr8mf4r",
      "traits": {
        "email": "jake@yahoo.com",
        "name": "Jake Peterson",
        "age": 26
      },
      "timestamp": "2012-12-02T00:30:08.276Z"
    },
    {
      "type": "track",
      "userId": "019mr8mf4r",
      "event": "Song Played",
      "properties": {
        "name": "Fallin for You",
        "artist": "Dierks Bentley"
      },
      "timestamp": "2012-12-02T00:30:12.984Z"
    },
    {
      "type": "identify",
      "userId": "971mj8mk7p",
      "traits": {
        "email": "cindy@example.com",
        "name": "Cindy Gonzalez",
        "age": 23
      },
      "timestamp": "2015-2-02T00:30:08.276Z"
    },
    {
      "type": "track",
      "userId": "971mj8mk7p",
      "event": "Song Played",
      "properties": {
        "name": "Get Right",
        "artist": "Jennifer Lopez"
      },
      "timestamp": "2015-2-02T00:30:12.984Z"
    }
  ],
  "writeKey": "YOUR_WRITE_KEY",
  "context": {
    "device": {
      "type": "phone",
      "name": "Apple iPhone 6"
    }
  }
}"""


def accepted(result: ParseResult) -> list:
    assert result.body_error is None and result.rejections == []
    return generated_ids(result.events)


def test_identify_example():
    assert accepted(parse(IDENTIFY, "identify")) == [
        event(
            event="identify",
            client_ts=1354408208276,
            user_id="019mr8mf4r",
            ip="24.5.68.47",
            traits={
                "email": "pgibbons@example.com",
                "name": "Peter Gibbons",
                "industry": "Technology",
            },
            context={"ip": "24.5.68.47"},
        )
    ]


def test_track_example():
    assert accepted(parse(TRACK, "track")) == [
        event(
            event="track:Item Purchased",
            client_ts=1354408212984,
            user_id="019mr8mf4r",
            ip="24.5.68.47",
            request={"properties": {"name": "Leap to Conclusions Mat", "revenue": 14.99}},
            context={"ip": "24.5.68.47"},
        )
    ]


def test_page_example():
    assert accepted(parse(PAGE, "page")) == [
        event(
            event="page",
            client_ts=1354408289738,
            user_id="019mr8mf4r",
            request={"name": "Tracking HTTP API"},
        )
    ]


def test_screen_example_is_the_page_body_on_the_screen_endpoint():
    assert accepted(parse(PAGE, "screen")) == [
        event(
            event="screen",
            client_ts=1354408289738,
            user_id="019mr8mf4r",
            request={"name": "Tracking HTTP API"},
        )
    ]


def test_batch_example_merges_the_batch_context_and_reads_its_unpadded_dates():
    device = {"device": {"type": "phone", "name": "Apple iPhone 6"}}
    assert accepted(parse(BATCH, "batch")) == [
        event(
            event="identify",
            client_ts=1354408208276,
            user_id="019mr8mf4r",
            traits={"email": "jake@yahoo.com", "name": "Jake Peterson", "age": 26},
            context=device,
        ),
        event(
            event="track:Song Played",
            client_ts=1354408212984,
            user_id="019mr8mf4r",
            request={"properties": {"name": "Fallin for You", "artist": "Dierks Bentley"}},
            context=device,
        ),
        event(
            event="identify",
            client_ts=1422837008276,  # "2015-2-02T00:30:08.276Z"
            user_id="971mj8mk7p",
            traits={"email": "cindy@example.com", "name": "Cindy Gonzalez", "age": 23},
            context=device,
        ),
        event(
            event="track:Song Played",
            client_ts=1422837012984,
            user_id="971mj8mk7p",
            request={"properties": {"name": "Get Right", "artist": "Jennifer Lopez"}},
            context=device,
        ),
    ]


def test_the_same_bodies_are_accepted_on_collect():
    for body, kind in ((IDENTIFY, "identify"), (TRACK, "track"), (PAGE, "page")):
        # /collect reads the type from the call: Segment's single calls name it in `type`
        typed = body.replace(b"{", b'{"type": "' + kind.encode() + b'", ', 1)
        assert accepted(parse(typed, "collect")) == accepted(parse(body, kind))
    assert accepted(parse(BATCH, "collect")) == accepted(parse(BATCH, "batch"))


def test_a_segment_call_without_user_or_anonymous_id_is_rejected():
    body = TRACK.replace(b'"userId": "019mr8mf4r",', b"")
    result = parse(body, "track")
    assert result.events == []
    assert [(r.index, r.reason, r.raw) for r in result.rejections] == [
        (0, "event 0: 'userId' or 'anonymousId' is required", body)
    ]
