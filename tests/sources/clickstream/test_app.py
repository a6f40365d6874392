"""The collector over real HTTP, against a real broker: what is accepted, refused and kept."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import orjson
from confluent_kafka import Consumer, Message

import headwater.transport as hwt
from tests.kit.consuming import consume_until, valid_messages
from tests.kit.waiting import wait_until

from .conftest import start_collector

AUTH = ("testkey", "")
EVENTS = "clickstream.events"


def read_topic(
    bootstrap: str,
    topic: str,
    count: int,
    deadline_s: float = 20.0,
    wanted: Callable[[Message], bool] | None = None,
) -> list:
    """The records of `topic` (`bootstrap`: a `--broker` value) read until `count` arrived (more
    if they came in the same fetch); fails naming how many arrived if fewer did by `deadline_s`.
    With `wanted`, only the records it accepts are kept and counted (a Kafka cluster's topics
    hold other tests' records too)."""
    consumer = Consumer(
        {
            "bootstrap.servers": hwt.parse_broker_url(bootstrap).bootstrap_servers,
            "group.id": f"read-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    try:
        return consume_until(
            lambda _: [
                m for m in valid_messages(consumer.consume(100, 0.2)) if wanted is None or wanted(m)
            ],
            lambda got: len(got) >= count,
            deadline_s,
            f"{count} records of {topic}",
        )
    finally:
        consumer.close()


SEGMENT_BATCH = {
    "batch": [
        {
            "type": "page",
            "name": "Home",
            "anonymousId": "anon-1",
            "messageId": "m-1",
            "timestamp": "2026-11-25T10:00:00.000Z",
            "context": {
                "page": {
                    "url": "https://shop.example/?utm_source=news&utm_campaign=spring",
                    "path": "/",
                    "referrer": "https://www.google.com/",
                },
                "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
                "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
                "Mobile/15E148 Safari/604.1",
                "sessionId": "sess-1",
            },
        },
        {
            "type": "track",
            "event": "video_play",
            "anonymousId": "anon-1",
            "userId": "u-7",
            "messageId": "m-2",
            "timestamp": "2026-11-25T10:00:05.000Z",
            "properties": {"video_id": "v42"},
            "context": {"sessionId": "sess-1"},
        },
    ],
    "sentAt": "2026-11-25T10:00:06.000Z",
}


def test_segment_batch_is_acknowledged_and_lands_enriched_in_order(broker_url, tmp_path):
    collector = start_collector(broker_url, tmp_path)
    try:
        response = httpx.post(f"{collector.url}/v1/batch", json=SEGMENT_BATCH, auth=AUTH)
    finally:
        assert collector.stop() == 0, collector.log_text()
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "accepted": 2}
    ours = {b"sess-1"}  # the batch's session: the key of its events
    records = read_topic(broker_url, EVENTS, 2, wanted=lambda m: m.key() in ours)
    events = [orjson.loads(m.value()) for m in records]
    assert [e["event_id"] for e in events] == ["m-1", "m-2"]
    assert {m.key() for m in records} == {b"sess-1"}
    page, play = events
    assert page["event"] == "page" and play["event"] == "track:video_play"
    assert page["referrer"]["medium"] == "search" and page["referrer"]["source"] == "google"
    assert page["campaign"]["source"] == "news"
    assert page["user_agent"]["os"] == "iOS"
    assert play["user_id"] == "u-7" and play["request"]["properties"] == {"video_id": "v42"}
    assert play["ts"] <= play["received_ts"]
    headers = dict(records[0].headers())
    assert headers["source"] == b"web-test" and headers["schema"] == b"clickstream.event/1"


def test_missing_or_unknown_write_key_is_401(collector):
    assert httpx.post(f"{collector.url}/v1/batch", json=SEGMENT_BATCH).status_code == 401
    bad = httpx.post(f"{collector.url}/v1/batch", json=SEGMENT_BATCH, auth=("nope", ""))
    assert bad.status_code == 401 and "unknown write key" in bad.text


def test_malformed_json_is_400_and_dead_lettered_raw(broker, collector):
    body = b'{"type": "track", "event": "x", "anonymousId": "a",'
    response = httpx.post(
        f"{collector.url}/collect?k=testkey",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["success"] is False
    dead = read_topic(broker.bootstrap, "clickstream.invalid", 1)
    assert dead[0].value() == body
    assert dict(dead[0].headers())["reason"]


def test_one_bad_event_in_a_batch_is_refused_alone(broker, collector):
    batch = {
        "batch": [
            {"type": "track", "event": "ok", "anonymousId": "a", "messageId": "good-1"},
            {"type": "track", "event": "bad", "anonymousId": "a", "properties": [1, 2]},
        ]
    }
    response = httpx.post(f"{collector.url}/v1/batch", json=batch, auth=AUTH)
    assert response.status_code == 400
    body = response.json()
    assert body["accepted"] == 1
    assert [r["index"] for r in body["rejected"]] == [1]
    assert "properties" in body["rejected"][0]["reason"]
    assert [
        orjson.loads(m.value())["event_id"]
        for m in read_topic(broker.bootstrap, "clickstream.events", 1)
    ] == ["good-1"]
    dead = read_topic(broker.bootstrap, "clickstream.invalid", 1)
    assert orjson.loads(dead[0].value())["properties"] == [1, 2]


def test_oversize_body_is_413_on_collect_and_dead_lettered(broker, collector):
    big = b"[" + b",".join([b'{"type":"track","event":"e","anonymousId":"a"}'] * 15000) + b"]"
    response = httpx.post(f"{collector.url}/collect?k=testkey", content=big)
    assert response.status_code == 413  # the tracker splits its batch on 413
    assert "exceeds the limit of 512000 bytes" in response.text
    dead = read_topic(broker.bootstrap, "clickstream.invalid", 1)
    assert dead[0].value() == big
    assert "exceeds the limit" in dict(dead[0].headers())["reason"].decode()


def test_oversize_segment_batch_is_a_precise_400(broker, collector):
    calls = [{"type": "track", "event": "e", "anonymousId": "a", "p": "x" * 900}] * 600
    response = httpx.post(f"{collector.url}/v1/batch", json={"batch": calls}, auth=AUTH)
    assert response.status_code == 400  # Segment's spec: 500 KB a batch, 400 above
    assert "exceeds the limit of 512000 bytes" in response.json()["error"]
    assert len(read_topic(broker.bootstrap, "clickstream.invalid", 1)) == 1


def test_body_over_the_read_cap_is_refused_unread(collector):
    huge = b"[" + b" " * 1_000_000 + b"]"
    response = httpx.post(f"{collector.url}/v1/batch", content=huge, auth=AUTH)
    assert response.status_code == 400
    assert "exceeds the limit" in response.text


def test_pixel_sets_first_party_cookies_and_lands(broker, collector):
    response = httpx.get(f"{collector.url}/p.gif", params={"k": "testkey", "e": "open"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/gif"
    assert "hw_sid" in response.cookies and "hw_aid" in response.cookies
    event = orjson.loads(read_topic(broker.bootstrap, "clickstream.events", 1)[0].value())
    assert event["session_id"] == response.cookies["hw_sid"]
    assert event["anonymous_id"] == response.cookies["hw_aid"]


def test_cors_preflight_allows_the_origin(collector):
    response = httpx.options(
        f"{collector.url}/collect",
        headers={"origin": "https://shop.example", "access-control-request-method": "POST"},
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://shop.example"


def test_paths_are_configurable_past_ad_blockers(broker, tmp_path):
    custom = start_collector(
        broker,
        tmp_path,
        "--tracker-path",
        "/static/app.js",
        "--collect-path",
        "/api/v2/e",
        "--pixel-path",
        "/img/s.gif",
        "--site-host",
        "shop.example",
    )
    try:
        script = httpx.get(f"{custom.url}/static/app.js")
        assert script.status_code == 200
        assert script.headers["content-type"] == "application/javascript"
        assert httpx.get(f"{custom.url}/t.js").status_code == 404
        event = {
            "type": "page",
            "anonymousId": "a-1",
            "context": {
                "page": {
                    "url": "https://shop.example/cart",
                    "referrer": "https://shop.example/home",
                }
            },
        }
        posted = httpx.post(f"{custom.url}/api/v2/e?k=testkey", json=event)
        assert posted.status_code == 200, posted.text
        assert httpx.get(f"{custom.url}/img/s.gif", params={"k": "testkey"}).status_code == 200
        assert httpx.post(f"{custom.url}/collect?k=testkey", json=event).status_code == 404
        landed = [orjson.loads(m.value()) for m in read_topic(broker.bootstrap, EVENTS, 2)]
        page = next(e for e in landed if e["anonymous_id"] == "a-1")
        assert page["referrer"]["medium"] == "internal"  # --site-host reached the enricher
    finally:
        custom.stop()


def test_collectors_share_a_port_and_survive_one_stopping(broker, tmp_path):
    first = start_collector(broker, tmp_path)
    second = start_collector(broker, tmp_path, port=first.port)
    try:
        assert second.proc.poll() is None
        first.stop()
        sent = [{"type": "track", "event": f"e{i}", "anonymousId": "a"} for i in range(20)]
        for event in sent:  # a new connection each time: the survivor serves them all
            response = httpx.post(f"{second.url}/collect?k=testkey", json=event)
            assert response.status_code == 200, response.text
        landed = [orjson.loads(m.value()) for m in read_topic(broker.bootstrap, EVENTS, 20)]
        assert sorted(e["event"] for e in landed) == sorted(f"track:e{i}" for i in range(20))
    finally:
        first.stop()
        second.stop()


def test_broker_down_is_503_then_events_flow_again_none_lost(broker, collector):
    event = {"type": "track", "event": "e", "anonymousId": "a"}
    assert (
        httpx.post(
            f"{collector.url}/collect?k=testkey", json={**event, "messageId": "before"}
        ).status_code
        == 200
    )
    broker.stop()
    down = httpx.post(
        f"{collector.url}/collect?k=testkey", json={**event, "messageId": "during"}, timeout=30
    )
    assert down.status_code == 503
    assert down.headers["retry-after"]
    broker.start()

    def retry_accepted() -> bool:
        retry = httpx.post(
            f"{collector.url}/collect?k=testkey", json={**event, "messageId": "during"}, timeout=30
        )
        return retry.status_code == 200

    wait_until(retry_accepted, 30, "a 200 for the retried event once the broker is back")
    ids = [
        orjson.loads(m.value())["event_id"]
        for m in read_topic(broker.bootstrap, "clickstream.events", 2, deadline_s=30)
    ]
    assert "before" in ids and "during" in ids
