"""Bodies the collector usually receives, 50 events or one: what t.js, Segment's libraries and
bench/collector.py send. The parse tests check both paths read them alike; bench/parse_cost.py
times them."""

from __future__ import annotations

import uuid

import orjson

from tests.sources.clickstream.parse.test_body import TRACKER_CALL

EVENTS = 50
BENCH_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)


def tracker_batch() -> bytes:
    """50 calls as t.js sends them (~630 bytes each, ~31 KB: under the 32 KB per-event limit,
    so the calls' sizes need no measuring)."""
    return orjson.dumps(
        [
            {**TRACKER_CALL, "messageId": str(uuid.uuid4()), "type": "track", "event": "click",
             "properties": {"href": f"https://shop.example/p/{i}", "text": "Buy now"}}
            for i in range(EVENTS)
        ]
    )  # fmt: skip


def segment_batch() -> bytes:
    """50 track calls shaped as Segment's documentation example (~200 bytes each)."""
    call = {
        "type": "track",
        "userId": "019mr8mf4r",
        "event": "Song Played",
        "properties": {"name": "Fallin for You", "artist": "Dierks Bentley"},
        "timestamp": "2023-11-14T22:13:12.984Z",
    }
    batch = [{**call, "messageId": str(uuid.uuid4())} for _ in range(EVENTS)]
    return orjson.dumps({"batch": batch, "context": {"library": {"name": "analytics-python"}}})


def bench_call(i: int) -> dict[str, object]:
    """bench/collector.py's `event(i)` (its timestamps moved to RECEIVED's day)."""
    return {
        "type": "track",
        "event": "video_play",
        "anonymousId": f"anon-{i % 5000}",
        "messageId": f"m-{i}",
        "timestamp": "2023-11-14T22:13:00.000Z",
        "properties": {"video_id": f"v{i % 300}", "position_s": i % 600},
        "context": {
            "page": {
                "url": f"https://watch.example/v/{i % 300}?utm_source=news",
                "referrer": "https://www.google.com/",
            },
            "userAgent": BENCH_UA,
            "sessionId": f"s-{i % 5000}",
        },
    }


def bench_batch() -> bytes:
    """bench/collector.py's 50-event Segment batch (~420 bytes a call)."""
    calls = [bench_call(i) for i in range(EVENTS)]
    return orjson.dumps({"batch": calls, "sentAt": "2023-11-14T22:13:01.000Z"})


def usual_bodies() -> list[tuple[str, bytes, str, int]]:
    """(name, body, endpoint, events in it) of each usual body."""
    return [
        ("50-event bench batch", bench_batch(), "batch", EVENTS),
        ("50-event tracker batch", tracker_batch(), "collect", EVENTS),
        ("50-event segment batch", segment_batch(), "batch", EVENTS),
        ("one bench call", orjson.dumps(bench_call(7)), "collect", 1),
        ("one tracker call", orjson.dumps(TRACKER_CALL), "collect", 1),
    ]
