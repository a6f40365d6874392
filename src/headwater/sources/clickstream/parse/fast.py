"""The fast path of `parse_body`: a body whose every call is accepted, read in one typed decode.

Cost: one C-level decode into wire.py's types (msgspec) checks the body's shape and its fields'
types; Python then builds each event with the few checks the types cannot express (an event
name, a context's page, the future-skew rule). Rule: `read_valid` returns None as soon as
anything would not be accepted as-is (a wrong type, a missing id, a far-future timestamp, an
oversize call, a rarer shape such as NDJSON without its content type); `parse_body` then reads
the body on its precise path (body.py, event.py), which says why. So the fast path never yields
a rejection or a body error, and its events equal the precise path's for the same body. A body
it declines costs its typed decode, and the events built before the decline, on top.

Rule: `_events` is event.py's `EventReader.read` restated for typed calls; a change to one is
made to the other (tests/sources/clickstream/parse/test_fast.py compares them on generated
bodies, and fails otherwise).

Timestamp strings repeat (a batch's sentAt, the calls of one page view): up to
`_EPOCH_CACHE_SIZE` of them are kept with their epoch milliseconds, per process; the cache is
emptied when full.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec import UNSET

from headwater.sources.clickstream.model import IncomingEvent
from headwater.sources.clickstream.parse.event import (
    CALLS,
    CHANNELS,
    ID_PROPERTIES,
    TRACKER,
    campaign_of,
)
from headwater.sources.clickstream.parse.ids import new_event_id
from headwater.sources.clickstream.parse.limits import ParseLimits, ParseResult, accepted
from headwater.sources.clickstream.parse.timestamps import (
    EPOCH,
    MILLISECOND,
    BadTimestamp,
    epoch_ms,
)
from headwater.sources.clickstream.parse.wire import (
    ARRAY_SLICER,
    BATCH_SLICER,
    BODY,
    LINE,
    Call,
)

SINGLE_CALLS = frozenset(("track", "page", "screen", "identify"))
_EPOCH_CACHE_SIZE = 4096
_EPOCHS: dict[str, int] = {}  # str keys only: 1, 1.0 and True would be one key
_from_iso = datetime.fromisoformat
_decode_body = BODY.decode
_decode_line = LINE.decode


def read_valid(
    body: bytes,
    *,
    endpoint: str,
    ndjson: bool,
    received_ts: int,
    limits: ParseLimits,
) -> ParseResult | None:
    """The events of `body` when every call in it is accepted as-is, else None.

    `body` is neither empty nor over the body limit (parse_body checked that); `ndjson` when
    the content type says so (on /collect only).
    """
    context: dict[str, Any] | None = None
    sent_ts: int | None = None
    if ndjson:
        calls = _lines(body, limits)
        if calls is None:
            return None
    else:
        try:
            doc = _decode_body(body)
        except (ValueError, RecursionError):  # msgspec's errors, invalid UTF-8, deep nesting
            return None
        if type(doc) is list:
            if endpoint != "collect" or not _fit(body, doc, False, limits):
                return None
            calls = doc
        elif doc.batch is UNSET or endpoint in SINGLE_CALLS:  # "batch" is no field of a call
            if endpoint == "batch" or len(body) > limits.max_event_bytes:
                return None
            calls = [doc]
        else:
            calls = doc.batch
            if not _fit(body, calls, True, limits):
                return None
            context = doc.context
            if doc.sentAt is not None:
                try:
                    sent_ts = _EPOCHS.get(doc.sentAt) or _epoch(doc.sentAt)  # type: ignore[arg-type]
                except BadTimestamp:
                    return None
    events = _events(
        calls,
        endpoint if endpoint in SINGLE_CALLS else None,
        endpoint != "collect",
        received_ts,
        limits.max_future_skew_ms,
        context or None,
        sent_ts,
    )
    return None if events is None else accepted(events)


def _fit(body: bytes, calls: list[Any], batch: bool, limits: ParseLimits) -> bool:
    """Whether the number of calls and each call's size are within the limits."""
    if len(calls) > limits.max_batch_events:
        return False
    if len(body) <= limits.max_event_bytes:  # no call can exceed the limit
        return True
    try:  # the calls as the bytes received, as body.py measures them
        slices = BATCH_SLICER.decode(body).batch if batch else ARRAY_SLICER.decode(body)
    except (ValueError, RecursionError):
        return False
    return len(slices) == len(calls) and max(map(len, slices), default=0) <= limits.max_event_bytes


def _lines(body: bytes, limits: ParseLimits) -> list[Call] | None:
    """The calls of a newline-delimited body (split as body.py splits it), or None."""
    calls = []
    max_bytes = limits.max_event_bytes
    try:
        for line in body.split(b"\n"):
            if line and not line.isspace():
                if len(line) > max_bytes:
                    return None
                calls.append(_decode_line(line))
    except (ValueError, RecursionError):
        return None
    return calls if len(calls) <= limits.max_batch_events else None


def _events(
    calls: list[Call],
    forced_type: str | None,
    identity_required: bool,
    received_ts: int,
    max_skew: int,
    batch_context: dict[str, Any] | None,
    batch_sent: int | None,
) -> list[IncomingEvent] | None:
    """EventReader.read for each typed call (the collector's hot path: one loop, the reads
    inlined); None at the first call that it would refuse."""
    events: list[IncomingEvent] = []
    append = events.append
    unnamed: list[IncomingEvent] = []  # events given an id at the end: none drawn in vain
    epochs = _EPOCHS
    try:
        for c in calls:
            kind = forced_type or c.type
            if kind == "track" or kind is None:
                name = c.event
                if name is None:
                    return None
                event = name if kind is None and name in CALLS else "track:" + name
            elif kind in CALLS:
                event = kind
            else:
                return None

            user_id = c.userId  # non-empty (wire.Text) or a number
            if type(user_id) is int:
                user_id = str(user_id)
            anonymous_id = c.anonymousId
            if type(anonymous_id) is int:
                anonymous_id = str(anonymous_id)
            if user_id is None and anonymous_id is None and identity_required:
                return None

            context = c.context
            if context is None:
                context = dict(batch_context) if batch_context else {}
            elif batch_context:
                context = {**batch_context, **context}
            cget = context.get

            session_id = c.sessionId
            if session_id is None:
                session_id = c.session_id
                if session_id is None:
                    session_id = cget("sessionId")
                    if type(session_id) is str:
                        session_id = session_id or None
                    elif session_id is not None and type(session_id) is not int:
                        return None
            if type(session_id) is int:
                session_id = str(session_id)

            properties = c.properties
            if properties is None:
                properties = {}
            traits = c.traits
            if traits is None:
                traits = {}

            page = cget("page")
            if type(page) is dict:
                url = page.get("url")
                path = page.get("path")
                referrer = page.get("referrer")
                method = page.get("method")
                if type(method) is not str:
                    library = cget("library")
                    tracker = type(library) is dict and library.get("name") == TRACKER
                    method = "GET" if tracker else None
            elif page is None:
                url = path = referrer = method = None
                if event == "page":
                    url = properties.get("url")
                    path = properties.get("path")
                    referrer = properties.get("referrer")
            else:
                return None
            if (  # each a string or None (the usual string tested first)
                (type(url) is not str and url is not None)
                or (type(path) is not str and path is not None)
                or (type(referrer) is not str and referrer is not None)
            ):
                return None
            user_agent = cget("userAgent")
            if type(user_agent) is not str and user_agent is not None:
                return None
            ip = cget("ip")
            if ip is not None and type(ip) is not str:
                return None
            campaign = cget("campaign")
            if campaign is None:
                campaign = {}
            elif type(campaign) is dict:
                campaign = campaign_of(campaign)
            else:
                return None
            channel = cget("channel")
            if channel is None:
                channel = c.channel
            channel = CHANNELS.get(channel) if type(channel) is str else None

            raw = c.timestamp
            if raw is None:
                raw = c.originalTimestamp
            if raw is None:
                client_ts = None
            else:
                client_ts = epochs.get(raw)  # type: ignore[arg-type]
                if client_ts is None:
                    client_ts = _epoch(raw)
            raw = c.sentAt
            if raw is None:
                sent_ts = batch_sent
            else:
                sent_ts = epochs.get(raw)  # type: ignore[arg-type]
                if sent_ts is None:
                    sent_ts = _epoch(raw)
            if (
                client_ts is not None
                and client_ts - (received_ts if sent_ts is None else sent_ts) > max_skew
            ):
                return None

            event_id = c.messageId
            if type(event_id) is int:
                event_id = str(event_id)
            page_id = video_id = None
            if properties and not ID_PROPERTIES.isdisjoint(properties):  # event.property_id
                pget = properties.get
                page_id = pget("page_id")
                if page_id is None:
                    page_id = pget("pageId")
                if page_id is not None and type(page_id) is not str:
                    page_id = str(page_id) if type(page_id) is int else None
                video_id = pget("video_id")
                if video_id is None:
                    video_id = pget("videoId")
                if video_id is not None and type(video_id) is not str:
                    video_id = str(video_id) if type(video_id) is int else None
            append(
                {
                    "event_id": event_id,  # type: ignore[typeddict-item] # None: drawn below
                    "event": event,
                    "channel": channel,
                    "client_ts": client_ts,
                    "sent_ts": sent_ts,
                    "user_id": user_id,  # type: ignore[typeddict-item] # ints made str
                    "anonymous_id": anonymous_id,  # type: ignore[typeddict-item] # ints made str
                    "session_id": session_id,  # type: ignore[typeddict-item] # ints made str
                    "request": {
                        "url": url or None,
                        "path": path or None,
                        "method": method,
                        "name": c.name,
                        "page_id": page_id or None,
                        "video_id": video_id or None,
                        "properties": properties,
                    },
                    "user_agent": user_agent or None,
                    "ip": ip or None,
                    "referrer": referrer or None,
                    "campaign": campaign,
                    "traits": traits,
                    "context": context,
                }
            )
            if event_id is None:
                unnamed.append(events[-1])
    except BadTimestamp:
        return None
    for e in unnamed:
        e["event_id"] = new_event_id()
    return events


def _epoch(value: str | int | float) -> int:
    """timestamps.epoch_ms (by event.py's shortcut for ISO-8601 with an offset), remembered
    when `value` is a string."""
    if type(value) is str and value[10:11] == "T":
        try:
            ms = (_from_iso(value) - EPOCH) // MILLISECOND
        except (ValueError, TypeError):  # not ISO-8601, or no offset: the whole story
            ms = epoch_ms(value)
    else:
        ms = epoch_ms(value)
    if type(value) is str and len(value) <= 64:
        if len(_EPOCHS) >= _EPOCH_CACHE_SIZE:
            _EPOCHS.clear()
        _EPOCHS[value] = ms
    return ms
