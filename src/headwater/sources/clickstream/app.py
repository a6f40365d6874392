"""The collector as a raw ASGI application: routing, auth, CORS, cookies, and the answer.

Per request: read the body (refusing oversize ones early), parse it into events and rejections,
fill session and anonymous ids from first-party cookies, drop event ids already seen, enrich,
hand valid events to `clickstream.events` (keyed by session so a session stays in one partition,
in order) and rejected ones, raw and with their reason, to `clickstream.invalid`; then answer:
200 when every event was stored, 202 when they are still being stored (exactly once; the client
must not retry), 400 listing each rejected event's reason, 401 for a missing or unknown write key,
413/400/500 when the broker refused events for good (dead-lettered with the reason), 500 when a
delivery's outcome is unknown, and 503 with Retry-After only when nothing was stored and nothing
will be (broker unreachable, producer queue full, or the cluster unable to take acks=all writes
to a partition): `delivery.py` states why each. A body over the
500 KB limit is a 400 on the Segment endpoints (as that spec says) and a 413 on /collect (the
tracker splits its batch on 413); up to `READ_CAP_BYTES` it is still read and dead-lettered whole,
beyond that it is refused unread. Nothing received is silently lost: whatever could be read is
either accepted or dead-lettered before the answer.
"""

from __future__ import annotations

import base64
import functools
import gc
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

import orjson

from headwater.logs import log_event
from headwater.sources.clickstream.config import CollectorConfig
from headwater.sources.clickstream.delivery import (
    INVALID_EVENT,
    STORED,
    TOO_LARGE,
    BrokerUnavailable,
    EventSink,
    Outcome,
    OutgoingRecord,
)
from headwater.sources.clickstream.enrich import Enricher
from headwater.sources.clickstream.model import ClickEvent, IncomingEvent, Rejection, RequestContext
from headwater.sources.clickstream.parse import (
    EventIdDeduplicator,
    parse_body,
    parse_pixel,
)

logger = logging.getLogger("headwater.collector")
#: Largest body read (and so dead-lettered whole when refused): under librdkafka's 1,000,000-byte
#: message limit, with room for the headers.
READ_CAP_BYTES = 900_000

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
SEGMENT_ENDPOINTS = {
    f"/v1/{name}": name for name in ("track", "page", "screen", "identify", "batch")
}
SCHEMA = b"clickstream.event/1"


class HttpError(Exception):
    def __init__(self, status: int, reason: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or []


def _tracker_script() -> bytes:
    try:
        return resources.files("headwater.sources.clickstream").joinpath("t.js").read_bytes()
    except (FileNotFoundError, OSError):
        return b"/* headwater tracker not built */"


class Collector:
    """ASGI callable; one instance per process (it owns the producer)."""

    def __init__(self, config: CollectorConfig, sink: EventSink | None = None) -> None:
        self.config = config
        self.sink = sink
        self.enricher = Enricher(config.enrich)
        self.dedup = EventIdDeduplicator(config.dedup_window_s, 1_000_000)
        self.tracker = _tracker_script()
        self.stats = {
            "accepted": 0,
            "rejected": 0,
            "duplicates": 0,
            "unavailable": 0,
            "pending": 0,
            "refused": 0,
            "uncertain": 0,
            "waiting": 0,  # requests awaiting the broker's acknowledgement now
        }

    def health(self) -> dict[str, int]:
        """The counters, and `unwritable`: 1 while new requests get 503 because the cluster
        cannot take `acks=all` writes to the collector's topics (see `writability.py`)."""
        unwritable = self.sink is not None and self.sink.unwritable is not None
        return {**self.stats, "unwritable": int(unwritable)}

    # -- ASGI ---------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        origin = _header(scope, b"origin")
        cors = self._cors_headers(origin)
        try:
            status, headers, body = await self._route(scope, receive)
        except HttpError as exc:
            status, headers = exc.status, exc.headers
            body = orjson.dumps({"success": False, "error": exc.reason})
            headers = [*headers, (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": [*headers, *cors]})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.sink is None:
                    try:
                        self.sink = self._open_sink()
                    except Exception as exc:  # the server exits with this message, never serves
                        log_event(logger, "collector_start_failed", logging.ERROR, reason=str(exc))
                        await send({"type": "lifespan.startup.failed", "message": str(exc)})
                        return
                self.sink.start()
                _tune_gc()
                log_event(logger, "collector_started", broker=self.config.broker)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.sink is not None:
                    left = self.sink.close()
                    fields: dict[str, Any] = {"undelivered": left, **self.stats}
                    log_event(logger, "collector_stopped", **fields)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _open_sink(self) -> EventSink:
        cfg = self.config
        return EventSink(
            cfg.broker,
            invalid_topic=cfg.invalid_topic,
            events_topic=cfg.events_topic,
            delivery_timeout_s=cfg.delivery_timeout_s,
            queue_max_messages=cfg.queue_max_events,
        )

    # -- routing ------------------------------------------------------------------------------
    async def _route(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        method, path = scope["method"], scope["path"]
        cfg = self.config
        if method == "OPTIONS":
            return 204, [], b""
        if path == cfg.tracker_path and method == "GET":
            return (
                200,
                [
                    (b"content-type", b"application/javascript"),
                    (b"cache-control", b"public, max-age=3600"),
                ],
                self.tracker,
            )
        if path == "/healthz":
            return 200, [(b"content-type", b"application/json")], orjson.dumps(self.health())
        endpoint = "collect" if path == cfg.collect_path else SEGMENT_ENDPOINTS.get(path)
        if endpoint is not None:
            if method != "POST":
                raise HttpError(405, f"{path} takes POST", [(b"allow", b"POST, OPTIONS")])
            source = self._authenticate(scope)
            body = await self._read_body(scope, receive, endpoint)
            return await self._ingest(scope, source, endpoint, body)
        if path == cfg.pixel_path and method == "GET":
            source = self._authenticate(scope)
            return await self._ingest_pixel(scope, source)
        raise HttpError(404, f"no route for {method} {path}")

    def _authenticate(self, scope: Scope) -> str:
        """The source name of the request's write key (HTTP basic user, or ?k= / ?writeKey=)."""
        key = None
        auth = _header(scope, b"authorization")
        if auth and auth[:6].lower() == "basic ":
            key = _basic_user(auth[6:])
            if key is None:
                raise HttpError(401, "malformed Authorization header")
        if key is None:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            key = query.get("k") or query.get("writeKey")
        if not key:
            raise HttpError(
                401,
                "missing write key (HTTP basic user, or ?k=)",
                [(b"www-authenticate", b'Basic realm="headwater"')],
            )
        source = self.config.write_keys.get(key)
        if source is None:
            raise HttpError(401, "unknown write key")
        return source

    async def _read_body(self, scope: Scope, receive: Receive, endpoint: str) -> bytes:
        """The body, read up to `READ_CAP_BYTES` (the parser then judges the 500 KB limit)."""
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > READ_CAP_BYTES:
            raise HttpError(
                _oversize_status(endpoint),
                f"body of {declared} bytes exceeds the limit of "
                f"{self.config.limits.max_body_bytes} bytes",
            )
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > READ_CAP_BYTES:
                raise HttpError(
                    _oversize_status(endpoint),
                    f"body exceeds the limit of {self.config.limits.max_body_bytes} bytes",
                )
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    # -- ingestion ----------------------------------------------------------------------------
    async def _ingest(
        self, scope: Scope, source: str, endpoint: str, body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        ctx = self._context(scope)
        result = parse_body(
            body,
            endpoint=endpoint,
            content_type=_header(scope, b"content-type"),
            received_ts=ctx.received_ts,
            limits=self.config.limits,
        )
        rejections = list(result.rejections)
        if result.body_error is not None:
            rejections.append(Rejection(result.body_error.reason, body, None))
        set_cookies = self._identify(scope, result.events)
        accepted, outcome = await self._deliver(source, endpoint, result.events, rejections, ctx)
        headers = [(b"content-type", b"application/json"), *set_cookies]
        if not outcome.stored and not outcome.pending:
            status, answer = _failed_delivery(outcome, accepted)
            return status, headers, answer
        if result.body_error is not None:
            status = result.body_error.status
            return (
                _oversize_status(endpoint) if status == 413 else status,
                headers,
                orjson.dumps({"success": False, "error": result.body_error.reason}),
            )
        if rejections:
            return (
                400,
                headers,
                orjson.dumps(
                    {
                        "success": False,
                        "accepted": accepted,
                        "rejected": [{"index": r.index, "reason": r.reason} for r in rejections],
                    }
                ),
            )
        if outcome.pending:
            return (
                202,
                headers,
                orjson.dumps({"success": True, "accepted": accepted, "pending": True}),
            )
        return 200, headers, orjson.dumps({"success": True, "accepted": accepted})

    async def _ingest_pixel(
        self, scope: Scope, source: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        ctx = self._context(scope)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("utf-8", "replace")))
        events, rejections = parse_pixel(query, ctx.received_ts)
        set_cookies = self._identify(scope, events)
        accepted, outcome = await self._deliver(source, "pixel", events, list(rejections), ctx)
        headers = [(b"content-type", b"image/gif"), (b"cache-control", b"no-store"), *set_cookies]
        if not outcome.stored and not outcome.pending:
            return _failed_delivery(outcome, accepted)[0], headers, PIXEL_GIF
        return (400 if rejections else 202 if outcome.pending else 200), headers, PIXEL_GIF

    async def _deliver(
        self,
        source: str,
        endpoint: str,
        events: list[IncomingEvent],
        rejections: list[Rejection],
        ctx: RequestContext,
    ) -> tuple[int, Outcome]:
        """Hand the request's events and dead letters to the broker: how many events were
        accepted, and what became of them by the answer (see `delivery.py`)."""
        fresh = [e for e in events if not self.dedup.seen_or_add(e["event_id"], ctx.received_ts)]
        self.stats["duplicates"] += len(events) - len(fresh)
        enriched = self.enricher.enrich_batch(fresh, ctx)
        topic = self.config.events_topic
        headers = [
            ("source", source.encode()),
            ("schema", SCHEMA),
            ("ingested_at", str(ctx.received_ts).encode()),
        ]  # one list shared by the request's records: librdkafka copies it per record
        dumps = orjson.dumps
        records: list[OutgoingRecord] = [
            (topic, dumps(e), _partition_key(e), headers) for e in enriched
        ]
        records += [self._dead_letter(r, source, endpoint, ctx) for r in rejections]
        if not records:
            return 0, STORED
        if self.sink is None:  # the lifespan failed, yet the server runs: never pretend
            raise HttpError(503, "the collector is not started (its broker connection failed)")
        outcome = STORED
        try:
            ack = self.sink.send(records)
            if self.config.ack_before_response:
                self.stats["waiting"] += 1
                try:
                    outcome = await ack.wait(self.config.ack_timeout_s)
                finally:
                    self.stats["waiting"] -= 1
        except BrokerUnavailable as exc:
            self.stats["unavailable"] += 1
            for e in fresh:  # nothing was queued, the client will retry: not seen
                self.dedup.forget(e["event_id"])
            log_event(
                logger, "broker_unavailable", logging.WARNING, reason=str(exc), events=len(records)
            )
            raise HttpError(
                503,
                f"broker unavailable, nothing stored: {exc}",
                [(b"retry-after", str(self.config.retry_after_s).encode())],
            ) from None
        stats = self.stats
        if outcome.pending:
            stats["pending"] += 1
        refused = sum(1 for record, _ in outcome.refused if record[0] == topic)
        stats["refused"] += refused
        stats["uncertain"] += len(outcome.uncertain)
        stats["accepted"] += len(enriched) - refused
        stats["rejected"] += len(rejections)
        return len(enriched) - refused, outcome

    def _dead_letter(
        self, rejection: Rejection, source: str, endpoint: str, ctx: RequestContext
    ) -> OutgoingRecord:
        """The raw bytes as received, the reason in headers: nothing of the payload is lost."""
        headers = [
            ("source", source.encode()),
            ("reason", rejection.reason.encode()),
            ("endpoint", endpoint.encode()),
            ("ingested_at", str(ctx.received_ts).encode()),
        ]
        if rejection.index is not None:
            headers.append(("index", str(rejection.index).encode()))
        if ctx.client_ip:
            headers.append(("client_ip", ctx.client_ip.encode()))
        return (self.config.invalid_topic, rejection.raw, None, headers)

    # -- request context ----------------------------------------------------------------------
    def _context(self, scope: Scope) -> RequestContext:
        ip = (scope.get("client") or (None,))[0]
        if self.config.trust_forwarded_for:
            forwarded = _header(scope, b"x-forwarded-for")
            if forwarded:
                ip = forwarded.split(",")[0].strip()
        return RequestContext(
            received_ts=time.time_ns() // 1_000_000,
            client_ip=ip,
            user_agent=_header(scope, b"user-agent"),
            host=_header(scope, b"host"),
            site_hosts=self.config.enrich.site_hosts,
        )

    def _identify(self, scope: Scope, events: list[IncomingEvent]) -> list[tuple[bytes, bytes]]:
        """Fill anonymous and session ids from first-party cookies, setting them when absent.

        The session cookie is renewed on every request (a sliding 30-minute session)."""
        cfg = self.config
        cookies = _cookies(scope)
        needs_aid = any(not e["anonymous_id"] and not e["user_id"] for e in events)
        needs_sid = any(not e["session_id"] for e in events)
        aid = cookies.get(cfg.anonymous_cookie)
        sid = cookies.get(cfg.session_cookie)
        set_cookies: list[tuple[bytes, bytes]] = []
        if needs_aid and not aid:
            aid = str(uuid.uuid4())
            set_cookies.append(_set_cookie(cfg.anonymous_cookie, aid, 2 * 365 * 86400))
        if needs_sid or sid:
            sid = sid or str(uuid.uuid4())
            set_cookies.append(_set_cookie(cfg.session_cookie, sid, cfg.session_timeout_s))
        for e in events:
            if not e["anonymous_id"] and not e["user_id"]:
                e["anonymous_id"] = aid
            if not e["session_id"]:
                e["session_id"] = sid
        return set_cookies

    def _cors_headers(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        if origin is None:
            return []
        allowed = self.config.cors_origins
        if "*" not in allowed and origin not in allowed:
            return []
        return [
            (b"access-control-allow-origin", origin.encode()),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
            (b"access-control-allow-headers", b"content-type, authorization"),
            (b"access-control-max-age", b"86400"),
            (b"access-control-expose-headers", b"retry-after"),
            (b"vary", b"origin"),
        ]


def _failed_delivery(outcome: Outcome, accepted: int) -> tuple[int, bytes]:
    """The answer when the broker refused events for good, or their fate is unknown: never 503,
    which would invite a retry of events that are, or may be, stored."""
    if outcome.uncertain:
        reason = str(outcome.uncertain[0][1])
        body = {"success": False, "accepted": accepted, "error": f"delivery unknown: {reason}"}
        return 500, orjson.dumps(body)
    names = {error.name for _, error in outcome.refused}
    status = 413 if names & TOO_LARGE else 400 if names & INVALID_EVENT else 500
    reasons = [f"refused by the broker (dead-lettered): {error}" for _, error in outcome.refused]
    return status, orjson.dumps({"success": False, "accepted": accepted, "refused": reasons})


@functools.lru_cache(maxsize=1024)
def _basic_user(credentials: str) -> str | None:
    """The user of HTTP basic credentials (the write key); None when malformed. Cached: an SDK
    sends the same header with every request."""
    try:
        return base64.b64decode(credentials, validate=True).decode().split(":", 1)[0]
    except (ValueError, UnicodeDecodeError):
        return None


def _tune_gc() -> None:
    """Run the cyclic garbage collector far less often: a request's objects are acyclic and freed
    by reference counting, yet with the default thresholds the collector ran every few hundred
    allocations and cost ~27 % of a loaded worker's CPU (bench/collector_stages.py, ASGI row).
    Objects alive at start-up (modules, caches' warm-up) are frozen out of every collection."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def _oversize_status(endpoint: str) -> int:
    """400 on the Segment endpoints (their spec), 413 on /collect (the tracker splits on it)."""
    return 413 if endpoint == "collect" else 400


def _partition_key(event: ClickEvent) -> bytes | None:
    """Session, else anonymous id, else user id: one session stays ordered in one partition."""
    key = event["session_id"] or event["anonymous_id"] or event["user_id"]
    return key.encode() if key else None


def _header(scope: Scope, name: bytes) -> str | None:
    """One request header (the last of its name), from a map built once per request."""
    headers = scope.get(_HEADER_MAP)
    if headers is None:
        headers = scope[_HEADER_MAP] = {bytes(k): v for k, v in scope.get("headers", ())}
    value = headers.get(name)
    return None if value is None else bytes(value).decode("latin-1")


_HEADER_MAP = "headwater.headers"  # our key in the ASGI scope (the scope is ours per request)


def _cookies(scope: Scope) -> dict[str, str]:
    raw = _header(scope, b"cookie")
    if not raw:
        return {}
    out = {}
    for part in raw.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out[name] = value
    return out


def _set_cookie(name: str, value: str, max_age_s: int) -> tuple[bytes, bytes]:
    return (b"set-cookie", f"{name}={value}; Max-Age={max_age_s}; Path=/; SameSite=Lax".encode())
