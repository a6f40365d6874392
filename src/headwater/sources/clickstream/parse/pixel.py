"""The GET pixel: one event from a query string, for pages without JavaScript and for emails.

    <img src="https://collect.example.com/p.gif?k=KEY&e=email_open&uid=42&p_campaign_id=7">

    key        meaning                                     IncomingEvent field
    t          page | screen | identify | track            event (default: track when `e` is
                                                           given, else page)
    e          track event name                            event = "track:<e>"
    mid        message id, for deduplication               event_id (a uuid4 when absent)
    uid        user id                                     user_id
    aid        anonymous id                                anonymous_id
    sid        session id                                  session_id
    url        page URL                                    request.url
    path       page path (from `url` when absent)          request.path
    ref        referring URL                               referrer
    n          page or screen name                         request.name
    ti         page title                                  context.page.title
    pid, vid   page id, video id                           request.page_id, request.video_id
    ts         event time, client clock                    client_ts
    st         sent at, client clock                       sent_ts
    ch         web | mobile | desktop | voice              channel
    p_<name>   property <name> (string value)              request.properties[<name>]
    tr_<name>  trait <name> (string value)                 traits[<name>]
    utm_source, utm_medium, utm_campaign, utm_term, utm_content, utm_<other>
                                                           campaign: source, medium, name,
                                                           term, content, <other>

`ts`/`st` are epoch milliseconds or ISO-8601 (timestamps.py). An empty value is an absent one.
Other keys are ignored: `k` (the write key, the HTTP layer's) and cache-busters alike. No id is
required: the collector fills the anonymous and session ids from its cookies. A refused pixel is
one rejection whose raw bytes are the query re-encoded (`urlencode`); this never raises.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from headwater.sources.clickstream.model import Channel, IncomingEvent, Rejection
from headwater.sources.clickstream.parse.event import future_skew
from headwater.sources.clickstream.parse.ids import new_event_id
from headwater.sources.clickstream.parse.limits import ParseLimits
from headwater.sources.clickstream.parse.timestamps import BadTimestamp, epoch_ms

_TYPES = ("track", "page", "screen", "identify")
_CHANNELS: tuple[Channel, ...] = ("web", "mobile", "desktop", "voice")
_UTM_NAMES = {"campaign": "name"}
_DEFAULT_LIMITS = ParseLimits()


class _Refused(Exception):
    pass


def parse_pixel(
    query: dict[str, str], now_ms: int, limits: ParseLimits = _DEFAULT_LIMITS
) -> tuple[list[IncomingEvent], list[Rejection]]:
    """The pixel's event (received at `now_ms`), or its rejection: ([event], []) or ([], [r])."""
    try:
        raw = urlencode(query).encode("ascii")
    except UnicodeEncodeError:
        raw = urlencode(query, errors="surrogatepass").encode("ascii")
        return [], [Rejection("event 0: the query is not valid UTF-8 (a lone surrogate)", raw, 0)]
    if len(raw) > limits.max_event_bytes:
        return [], [
            Rejection(
                f"event 0: query of {len(raw)} bytes exceeds the limit of "
                f"{limits.max_event_bytes} bytes per event",
                raw,
                0,
            )
        ]
    try:
        return [_event(query, now_ms, limits)], []
    except _Refused as exc:
        return [], [Rejection(f"event 0: {exc}", raw, 0)]


def _event(query: dict[str, str], now_ms: int, limits: ParseLimits) -> IncomingEvent:
    def get(key: str) -> str | None:
        return query.get(key) or None

    properties: dict[str, Any] = {}
    traits: dict[str, Any] = {}
    campaign: dict[str, str] = {}
    for key, value in query.items():
        if key.startswith("p_"):
            properties[key[2:]] = value
        elif key.startswith("tr_"):
            traits[key[3:]] = value
        elif key.startswith("utm_"):
            campaign[_UTM_NAMES.get(key[4:], key[4:])] = value

    name, kind = get("e"), get("t")
    if kind is None:
        kind = "page" if name is None else "track"
    elif kind not in _TYPES:
        raise _Refused(f"'t' must be one of 'track', 'page', 'screen', 'identify', got {kind!r}")
    if kind == "track" and name is None:
        raise _Refused("'e' is required for a track event")
    channel = get("ch")
    if channel is not None and channel not in _CHANNELS:
        raise _Refused(f"'ch' must be one of 'web', 'mobile', 'desktop', 'voice', got {channel!r}")
    client_ts, sent_ts = _time(get("ts"), "ts"), _time(get("st"), "st")
    if client_ts is not None:
        ahead = future_skew(client_ts, sent_ts, now_ms, limits.max_future_skew_ms, "'st'")
        if ahead is not None:
            raise _Refused(f"'ts' {ahead}")

    url = get("url")
    path = get("path")
    if path is None and url is not None:
        try:
            path = urlsplit(url).path or None
        except ValueError:  # "http://[": an unclosed IPv6 host
            path = None
    title = get("ti")
    return {
        "event_id": get("mid") or new_event_id(),
        "event": f"track:{name}" if kind == "track" else kind,
        "channel": channel,  # checked against _CHANNELS
        "client_ts": client_ts,
        "sent_ts": sent_ts,
        "user_id": get("uid"),
        "anonymous_id": get("aid"),
        "session_id": get("sid"),
        "request": {
            "url": url,
            "path": path,
            "method": None,
            "name": get("n"),
            "page_id": get("pid"),
            "video_id": get("vid"),
            "properties": properties,
        },
        "user_agent": None,
        "ip": None,
        "referrer": get("ref"),
        "campaign": campaign,
        "traits": traits,
        "context": {"page": {"title": title}} if title is not None else {},
    }


def _time(value: str | None, key: str) -> int | None:
    if value is None:
        return None
    try:
        return epoch_ms(value)
    except BadTimestamp as exc:
        raise _Refused(f"'{key}' {exc}") from None
