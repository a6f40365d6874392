"""Enriched clickstream events as the collector writes them to `clickstream.events`."""

from __future__ import annotations

from typing import Any

import orjson

DAY_MS = 86_400_000
#: 2023-11-14T21:13:20.100Z
BASE_TS = 1_699_996_400_100


def click_event(i: int, **overrides: Any) -> dict[str, Any]:
    """Event number `i` (event_id `e-<i>`), one day later every 1000 events."""
    ts = BASE_TS + i + (i // 1000) * DAY_MS
    event: dict[str, Any] = {
        "event_id": f"e-{i}",
        "event": "track:video_play" if i % 3 else "page",
        "channel": "web",
        "client_ts": ts - 5_000,
        "sent_ts": ts,
        "received_ts": ts + 100,
        "ts": ts,
        "user_id": f"u-{i % 100}" if i % 2 else None,
        "anonymous_id": f"anon-{i % 500}",
        "session_id": f"sess-{i % 2000}",
        "request": {
            "url": "https://shop.example/spring?utm_source=news",
            "path": "/spring",
            "method": "GET",
            "name": "Spring",
            "page_id": None,
            "video_id": "v42" if i % 3 else None,
            "properties": {"title": "Spring", "position": i % 17, "tags": ["a", "b"]},
        },
        "user_agent": {
            "raw": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0",
            "browser": "Chrome",
            "browser_version": "120.0",
            "os": "Linux",
            "os_version": None,
            "device_type": "desktop",
            "app": None,
        },
        "ip": "203.0.113.0",
        "geo": {"country": "DE"},
        "referrer": {"url": "https://mail.google.com/", "medium": "email", "source": "google"},
        "campaign": {"source": "news"},
        "traits": {} if i % 5 else {"plan": "pro"},
        "is_bot": False,
    }
    event.update(overrides)
    return event


def click_value(i: int, **overrides: Any) -> bytes:
    return orjson.dumps(click_event(i, **overrides))
