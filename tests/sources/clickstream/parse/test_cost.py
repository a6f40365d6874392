"""The parse cost per event of a 50-event batch, printed (no timing assertions: see bench/).

The collector's budget is ~1 µs per event (500,000 events/s on 2 cores). Run with `-s` to see:
    pytest tests/sources/clickstream/parse/test_cost.py -s
"""

from __future__ import annotations

import time
import uuid

import orjson

from headwater.sources.clickstream.parse import parse_body
from tests.sources.clickstream.parse.helpers import RECEIVED
from tests.sources.clickstream.parse.test_body import TRACKER_CALL

EVENTS = 50


def tracker_batch() -> bytes:
    """50 calls as t.js sends them (~800 bytes each: the body exceeds 32 KB, sizes are checked)."""
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


def cost_us_per_event(body: bytes, endpoint: str) -> float:
    def run() -> None:
        result = parse_body(
            body, endpoint=endpoint, content_type="application/json", received_ts=RECEIVED
        )
        assert len(result.events) == EVENTS

    run()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(100):
            run()
        best = min(best, (time.perf_counter() - start) / 100)
    return best * 1e6 / EVENTS


def test_cost_of_a_50_event_batch_is_printed(capsys):
    lines = []
    for name, body, endpoint in (
        ("tracker", tracker_batch(), "collect"),
        ("segment", segment_batch(), "batch"),
    ):
        decode = (
            min(_timed(lambda body=body: orjson.loads(body), 100) for _ in range(5)) * 1e6 / EVENTS
        )
        lines.append(
            f"parse cost, 50-event {name} batch of {len(body)} bytes: "
            f"{cost_us_per_event(body, endpoint):.2f} µs/event "
            f"(of which orjson.loads {decode:.2f})"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))


def _timed(fn: object, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()  # type: ignore[operator]
    return (time.perf_counter() - start) / n
