"""Request bodies and pixel queries of the collector -> `IncomingEvent`s and `Rejection`s.

    parse_body(body, endpoint=..., content_type=..., received_ts=..., limits=...) -> ParseResult
    parse_pixel(query, now_ms, limits=...) -> (events, rejections)
    EventIdDeduplicator(window_s, max_ids).seen_or_add(event_id, now_ms) -> bool

Sans-IO: bytes (or the query's dict) in, values out. Inputs are the tracker's and any generic
client's JSON on /collect (object, array, NDJSON), Segment's HTTP tracking API (/v1/track, page,
screen, identify, batch: so Segment's and RudderStack's SDKs work unchanged) and the GET pixel.
No body or query makes these functions raise: every event is accepted or rejected with a reason
naming its index and field, and a body that cannot be split is a `BodyError` (400, or 413 when
oversize). Formats: body.py (bodies), event.py (one call's fields), pixel.py (the query keys),
timestamps.py, ids.py, limits.py; fast.py and wire.py read bodies of valid calls faster, with the
same result; dedup.py drops retried deliveries by event id.
"""

from headwater.sources.clickstream.parse.body import ENDPOINTS, parse_body
from headwater.sources.clickstream.parse.dedup import EventIdDeduplicator
from headwater.sources.clickstream.parse.limits import BodyError, ParseLimits, ParseResult
from headwater.sources.clickstream.parse.pixel import parse_pixel

__all__ = [
    "ENDPOINTS",
    "BodyError",
    "EventIdDeduplicator",
    "ParseLimits",
    "ParseResult",
    "parse_body",
    "parse_pixel",
]
