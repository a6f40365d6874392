"""Events as the parser hands them over, for the enrichment tests."""

from __future__ import annotations

from typing import Any

from headwater.sources.clickstream.model import IncomingEvent


def incoming(**overrides: Any) -> IncomingEvent:
    """A tracker page view landing from an email campaign; `overrides` replace fields."""
    event: dict[str, Any] = {
        "event_id": "8a6c4f8e-2f4e-4f7e-9d7e-1d2c3b4a5f60",
        "event": "page",
        "channel": None,
        "client_ts": 1_699_996_405_000,
        "sent_ts": 1_699_996_410_000,
        "user_id": None,
        "anonymous_id": "anon-1",
        "session_id": "sess-1",
        "request": {
            "url": "https://shop.example/spring?utm_source=newsletter&utm_medium=email"
            "&utm_campaign=spring",
            "path": "/spring",
            "method": "GET",
            "name": "Spring",
            "page_id": None,
            "video_id": None,
            "properties": {"title": "Spring"},
        },
        "user_agent": None,
        "ip": None,
        "referrer": "https://mail.google.com/",
        "campaign": {},
        "traits": {},
        "context": {"library": {"name": "headwater.js", "version": "1"}},
    }
    event.update(overrides)
    return event  # type: ignore[return-value]
