"""Every class of bad input, over real HTTP: a precise 4xx, and the raw bytes dead-lettered.

The parsers' own suites (parse/) cover each rule in depth; here each class is checked once end to
end: the answer names what is wrong, and `clickstream.invalid` holds the payload as received with
the same reason in its headers, so nothing received is silently lost.
"""

from __future__ import annotations

import httpx
import orjson
import pytest

from .test_app import read_topic

INVALID = "clickstream.invalid"
FAR_FUTURE = "2031-01-01T00:00:00.000Z"

CASES = {
    "malformed JSON": (
        "/collect",
        b'{"type": "track", "event": "x",',
        "malformed JSON",
    ),
    "invalid UTF-8": (
        "/collect",
        b'{"type": "track", "event": "caf\xe9", "anonymousId": "a"}',
        "invalid UTF-8 at byte",
    ),
    "wrong type": (
        "/v1/track",
        orjson.dumps({"event": "x", "anonymousId": "a", "properties": "not an object"}),
        "'properties' must be an object, got string",
    ),
    "missing required field": (
        "/v1/track",
        orjson.dumps({"anonymousId": "a"}),
        "'event'",
    ),
    "missing identity (Segment)": (
        "/v1/page",
        orjson.dumps({"name": "Home"}),
        "'userId' or 'anonymousId' is required",
    ),
    "event far in the future": (
        "/v1/track",
        orjson.dumps({"event": "x", "anonymousId": "a", "timestamp": FAR_FUTURE}),
        "ms after the receive time",
    ),
    "oversize event in a batch": (
        "/v1/batch",
        orjson.dumps(
            {"batch": [{"type": "track", "event": "x", "anonymousId": "a", "p": "y" * 40_000}]}
        ),
        "32768",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_answered_precisely_and_dead_lettered(broker, collector, case):
    path, body, expected = CASES[case]
    response = httpx.post(
        f"{collector.url}{path}",
        content=body,
        auth=("testkey", ""),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    answer = response.json()
    reasons = [answer.get("error")] + [r["reason"] for r in answer.get("rejected", [])]
    assert any(r and expected in r for r in reasons), answer
    dead = read_topic(broker.bootstrap, INVALID, 1)
    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers()}
    assert expected in headers["reason"]
    assert headers["source"] == "web-test"
    raw = dead[0].value()
    assert raw == body or raw in body  # the whole body, or the one event's exact bytes


def test_nothing_is_accepted_when_every_event_is_bad(broker, collector):
    response = httpx.post(
        f"{collector.url}/v1/batch",
        json={"batch": [{"type": "track", "anonymousId": "a"}, {"type": "nope"}]},
        auth=("testkey", ""),
    )
    assert response.status_code == 400
    assert [r["index"] for r in response.json()["rejected"]] == [0, 1]
    assert len(read_topic(broker.bootstrap, INVALID, 2)) == 2
