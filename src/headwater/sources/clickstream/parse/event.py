"""One decoded call (a JSON object) to an `IncomingEvent`, or a reason why not.

The fields read, Segment's names (https://segment.com/docs/connections/spec/common/):

    type           "track" | "page" | "screen" | "identify" (the endpoint's, for /v1/<type>);
                   without it, `event` names the call: "page", "screen", "identify", else a track
    event          the track call's name: event "track:<event>"
    messageId      event_id (a uuid4 is generated when absent)
    userId, anonymousId, sessionId | session_id | context.sessionId
                   strings; numbers become strings, "" is absent
    timestamp | originalTimestamp (RudderStack), sentAt (the batch's when absent)
                   ISO-8601 or epoch ms (timestamps.py)
    name           page or screen name
    properties, traits                                  objects
    context        object; a batch's context is merged under it (key by key, the call's wins).
                   Lifted: page {url, path, referrer, method}, userAgent, ip, campaign, channel;
                   the whole context is kept in `context` for enrichment.

Wrong types are refused with the field's path ("event 3: 'properties' must be an object, got
array"); unknown fields are ignored; an unknown channel is None. For page calls without
context.page, url/path/referrer come from properties (analytics.js puts them in both).

Future events: the event's time is the corrected one of DESIGN.md, received - (sent - client),
so a client clock that is wrong by days is no reason to refuse (the correction undoes it). An
event whose `timestamp` is more than `max_future_skew_ms` after its `sentAt` (or, without
`sentAt`, after the receive time) is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from headwater.sources.clickstream.model import Channel, IncomingEvent
from headwater.sources.clickstream.parse.ids import new_event_id
from headwater.sources.clickstream.parse.timestamps import (
    EPOCH,
    MILLISECOND,
    BadTimestamp,
    epoch_ms,
    json_type,
)

#: the call types named by themselves; any other event name is a track call's (shared with fast.py)
CALLS = ("page", "screen", "identify")
CHANNELS: dict[str, Channel] = {
    "web": "web",
    "browser": "web",
    "mobile": "mobile",
    "desktop": "desktop",
    "voice": "voice",
}
TRACKER = "headwater.js"  # our tracker reports page loads, which are GETs
ID_PROPERTIES = frozenset(("page_id", "pageId", "video_id", "videoId"))
_from_iso = datetime.fromisoformat


class Invalid(Exception):
    """The call is refused; str(exc) is the complete reason."""


class EventReader:
    """Reads the calls of one body; holds what they share (the batch's context and sentAt)."""

    __slots__ = (
        "_batch_context",
        "_batch_sent",
        "_forced_type",
        "_identity_required",
        "_max_skew",
        "_received",
        "_sent_ms",
        "_sent_text",
    )

    def __init__(
        self,
        *,
        forced_type: str | None,
        identity_required: bool,
        received_ts: int,
        max_future_skew_ms: int,
        batch_context: dict[str, Any] | None = None,
        batch_sent_ts: int | None = None,
    ) -> None:
        self._forced_type = forced_type
        self._identity_required = identity_required
        self._received = received_ts
        self._max_skew = max_future_skew_ms
        self._batch_context = batch_context or None
        self._batch_sent = batch_sent_ts
        self._sent_text = ""  # a batch's calls share one sentAt: read it once
        self._sent_ms = 0

    def read(self, item: object, index: int) -> IncomingEvent:
        """The event of `item`, the call at `index` of its body; Invalid when refused.

        The collector's hot path (tests/.../parse/test_cost.py prints its cost): checks are
        inlined, helpers run only for unusual values.
        """
        if type(item) is not dict:
            raise Invalid(f"event {index}: must be an object, got {json_type(item)}")
        get = item.get

        kind = self._forced_type or get("type")
        if kind == "track" or kind is None:
            name = get("event")
            if type(name) is not str or not name:
                if kind is None and name is None:
                    raise Invalid(f"event {index}: 'type' is required")
                _event_name(name, index)
            event = name if kind is None and name in CALLS else "track:" + name
        elif kind in CALLS:
            event = kind
        else:
            raise _unknown_type(kind, index)

        user_id = get("userId")
        if user_id is not None and type(user_id) is not str:
            user_id = _id(user_id, index, "userId")
        anonymous_id = get("anonymousId")
        if anonymous_id is not None and type(anonymous_id) is not str:
            anonymous_id = _id(anonymous_id, index, "anonymousId")
        user_id = user_id or None
        anonymous_id = anonymous_id or None
        if user_id is None and anonymous_id is None and self._identity_required:
            raise Invalid(f"event {index}: 'userId' or 'anonymousId' is required")

        context = get("context")
        if type(context) is not dict:
            if context is not None:
                raise _wrong(index, "context", "an object", context)
            context = dict(self._batch_context) if self._batch_context else {}
        elif self._batch_context:
            context = {**self._batch_context, **context}
        cget = context.get

        session_id = get("sessionId")
        if session_id is None:
            session_id = get("session_id")
            if session_id is None:
                session_id = cget("sessionId")
        if session_id is not None and type(session_id) is not str:
            session_id = _session_id(item, session_id, index)
        session_id = session_id or None

        properties = get("properties")
        if type(properties) is not dict:
            if properties is not None:
                raise _wrong(index, "properties", "an object", properties)
            properties = {}
        traits = get("traits")
        if type(traits) is not dict:
            if traits is not None:
                raise _wrong(index, "traits", "an object", traits)
            traits = {}
        name = get("name")
        if name is not None and type(name) is not str:
            raise _wrong(index, "name", "a string", name)

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
            where = "context.page"
        elif page is None:
            url = path = referrer = method = None
            where = "properties"
            if event == "page":
                url = properties.get("url")
                path = properties.get("path")
                referrer = properties.get("referrer")
        else:
            raise _wrong(index, "context.page", "an object", page)
        if (
            (url is not None and type(url) is not str)
            or (path is not None and type(path) is not str)
            or (referrer is not None and type(referrer) is not str)
        ):
            _page_field(url, path, referrer, where, index)
        user_agent = cget("userAgent")
        if user_agent is not None and type(user_agent) is not str:
            raise _wrong(index, "context.userAgent", "a string", user_agent)
        ip = cget("ip")
        if ip is not None and type(ip) is not str:
            raise _wrong(index, "context.ip", "a string", ip)
        campaign = cget("campaign")
        campaign = {} if campaign is None else _campaign(campaign, index)
        channel = cget("channel")
        if channel is None:
            channel = get("channel")
        channel = CHANNELS.get(channel) if type(channel) is str else None

        raw = get("timestamp")
        if raw is None:
            raw = get("originalTimestamp")
        if raw is None:
            client_ts = None
        elif type(raw) is str and raw[10:11] == "T":  # the common case: ISO-8601, UTC or offset
            try:
                client_ts = (_from_iso(raw) - EPOCH) // MILLISECOND
            except (ValueError, TypeError):  # not ISO-8601, or no offset: the whole story
                client_ts = _ms(raw, index, _time_field(item))
        else:
            client_ts = _ms(raw, index, _time_field(item))
        raw = get("sentAt")
        if raw is None:
            sent_ts = self._batch_sent
        elif raw == self._sent_text and type(raw) is str:
            sent_ts = self._sent_ms
        else:
            sent_ts = _ms(raw, index, "sentAt")
            if type(raw) is str:
                self._sent_text, self._sent_ms = raw, sent_ts
        if (
            client_ts is not None
            and client_ts - (self._received if sent_ts is None else sent_ts) > self._max_skew
        ):
            self._too_far_ahead(item, client_ts, sent_ts, index)

        event_id = get("messageId")
        if type(event_id) is not str or not event_id:
            event_id = _id(event_id, index, "messageId") or new_event_id()
        page_id = video_id = None
        if properties and not ID_PROPERTIES.isdisjoint(properties):
            page_id = property_id(properties, "page_id", "pageId")
            video_id = property_id(properties, "video_id", "videoId")
        return {
            "event_id": event_id,
            "event": event,
            "channel": channel,
            "client_ts": client_ts,
            "sent_ts": sent_ts,
            "user_id": user_id,
            "anonymous_id": anonymous_id,
            "session_id": session_id,
            "request": {
                "url": url or None,
                "path": path or None,
                "method": method,
                "name": name,
                "page_id": page_id,
                "video_id": video_id,
                "properties": properties,
            },
            "user_agent": user_agent or None,
            "ip": ip or None,
            "referrer": referrer or None,
            "campaign": campaign,
            "traits": traits,
            "context": context,
        }

    def _too_far_ahead(
        self, item: dict[str, Any], client_ts: int, sent_ts: int | None, index: int
    ) -> NoReturn:
        field = _time_field(item)
        ahead = future_skew(client_ts, sent_ts, self._received, self._max_skew, "'sentAt'")
        raise Invalid(f"event {index}: '{field}' {ahead}")


def future_skew(
    client_ts: int, sent_ts: int | None, received_ts: int, max_skew_ms: int, sent_name: str
) -> str | None:
    """Why the event lies too far in the future (see the module docstring), or None."""
    base, what = (sent_ts, sent_name) if sent_ts is not None else (received_ts, "the receive time")
    ahead = client_ts - base
    if ahead > max_skew_ms:
        return f"is {ahead} ms after {what} (limit {max_skew_ms} ms)"
    return None


def _id(value: object, index: int, field: str) -> str | None:
    """An identifier: a non-empty string, or a number written as one."""
    if type(value) is str:
        return value or None
    if value is None:
        return None
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return str(int(value)) if value.is_integer() else repr(value)
    raise _wrong(index, field, "a string or number", value)


def _event_name(name: object, index: int) -> NoReturn:
    """Raise why `name` is no track call's name."""
    if name is None:
        raise Invalid(f"event {index}: 'event' is required for a track call")
    if type(name) is not str:
        raise _wrong(index, "event", "a string", name)
    raise Invalid(f"event {index}: 'event' must not be empty")


def _unknown_type(kind: object, index: int) -> Invalid:
    if type(kind) is not str:
        return _wrong(index, "type", "a string", kind)
    return Invalid(
        f"event {index}: 'type' must be one of 'track', 'page', 'screen', 'identify', "
        f"got {_short(kind)}"
    )


def _session_id(item: dict[str, Any], value: object, index: int) -> str | None:
    for field in ("sessionId", "session_id"):
        if item.get(field) is not None:
            return _id(value, index, field)
    return _id(value, index, "context.sessionId")


def _page_field(url: object, path: object, referrer: object, where: str, index: int) -> NoReturn:
    for field, value in (("url", url), ("path", path), ("referrer", referrer)):
        if value is not None and type(value) is not str:
            raise _wrong(index, f"{where}.{field}", "a string", value)
    raise AssertionError("called without a wrong field")


def _time_field(item: dict[str, Any]) -> str:
    return "timestamp" if item.get("timestamp") is not None else "originalTimestamp"


def _ms(value: object, index: int, field: str) -> int:
    try:
        return epoch_ms(value)
    except BadTimestamp as exc:
        raise Invalid(f"event {index}: '{field}' {exc}") from None


def _campaign(value: object, index: int) -> dict[str, str]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise _wrong(index, "context.campaign", "an object", value)
    return campaign_of(value)


def campaign_of(value: dict[str, Any]) -> dict[str, str]:
    """utm_* values without the prefix; numbers become strings, other values are dropped."""
    for v in value.values():
        if type(v) is not str:
            break
    else:
        return dict(value)
    return {
        k: v if type(v) is str else str(v)
        for k, v in value.items()
        if type(v) is str or (type(v) in (int, float))
    }


def property_id(properties: dict[str, Any], snake: str, camel: str) -> str | None:
    """properties[snake], else properties[camel], as a non-empty string (a number written)."""
    value = properties.get(snake)
    if value is None:
        value = properties.get(camel)
    if type(value) is str:
        return value or None
    if type(value) is int:
        return str(value)
    return None


def _wrong(index: int, field: str, expected: str, value: object) -> Invalid:
    return Invalid(f"event {index}: '{field}' must be {expected}, got {json_type(value)}")


def _short(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
