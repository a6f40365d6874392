"""Shared by the parse tests: a fixed receive time, and whole expected events."""

from __future__ import annotations

import uuid
from typing import Any

from headwater.sources.clickstream.model import IncomingEvent
from headwater.sources.clickstream.parse import ParseLimits, ParseResult, parse_body

#: 2023-11-14T22:13:20Z
RECEIVED = 1_700_000_000_000
LIMITS = ParseLimits()


def parse(
    body: bytes,
    endpoint: str = "collect",
    content_type: str | None = "application/json",
    limits: ParseLimits = LIMITS,
) -> ParseResult:
    return parse_body(
        body, endpoint=endpoint, content_type=content_type, received_ts=RECEIVED, limits=limits
    )


def event(**fields: Any) -> IncomingEvent:
    """An IncomingEvent with every field absent except `fields` (`request` is merged)."""
    request = {
        "url": None,
        "path": None,
        "method": None,
        "name": None,
        "page_id": None,
        "video_id": None,
        "properties": {},
    }
    request.update(fields.pop("request", {}))
    out: dict[str, Any] = {
        "event_id": None,
        "event": None,
        "channel": None,
        "client_ts": None,
        "sent_ts": None,
        "user_id": None,
        "anonymous_id": None,
        "session_id": None,
        "request": request,
        "user_agent": None,
        "ip": None,
        "referrer": None,
        "campaign": {},
        "traits": {},
        "context": {},
    }
    assert set(fields) <= set(out), set(fields) - set(out)
    out.update(fields)
    return out  # type: ignore[return-value]


def generated_ids(events: list[IncomingEvent]) -> list[IncomingEvent]:
    """`events` with their generated event ids checked (uuid4) and replaced by None."""
    out = []
    for e in events:
        parsed = uuid.UUID(e["event_id"])
        assert parsed.version == 4 and str(parsed) == e["event_id"]
        out.append({**e, "event_id": None})
    return out  # type: ignore[return-value]
