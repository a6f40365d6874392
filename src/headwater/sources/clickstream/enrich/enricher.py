"""IncomingEvent + RequestContext → ClickEvent: the one place the enriched record is assembled.

The event's own user agent and IP (Segment `context.userAgent` / `context.ip`) win over the HTTP
request's: server-side SDKs forward events on behalf of end users, and the request then comes
from the forwarding server. Enrichment never raises on what a client sent: unknown or malformed
values become None / "other".

Cost: every part that is a function of strings (user agent, IP, referrer + page URL) is cached,
and a batch resolves its user agent and IP again only when they change from one event to the
next, so a steady stream costs some twenty dictionary lookups and one new dict per event (built as
in `record.py`); one Python call more per event would add a tenth.

What a record shares: its top-level dict is the caller's own. Its `user_agent`, `geo`,
`referrer` and `campaign` are `FrozenDict`s shared with other records and with the caches:
read-only (`frozen.py`); copy one to change it. `request` and `traits` are the event's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from headwater.sources.clickstream.enrich.campaign import campaign_of
from headwater.sources.clickstream.enrich.channel import CONTEXT_KEYS, resolve_channel
from headwater.sources.clickstream.enrich.frozen import FrozenDict
from headwater.sources.clickstream.enrich.ip import IP_POLICIES, IpPolicy, ip_resolver
from headwater.sources.clickstream.enrich.landing import Landings, frozen_landing
from headwater.sources.clickstream.enrich.record import RecordFields
from headwater.sources.clickstream.enrich.referrer import InternalHosts, classify, internal_hosts
from headwater.sources.clickstream.enrich.user_agent import UNKNOWN, parse_user_agent, warm_up
from headwater.sources.clickstream.model import (
    Channel,
    ClickEvent,
    IncomingEvent,
    ParsedUserAgent,
    RequestContext,
)

_BLAKE2B_MAX_KEY = 64
# The context keys the channel rules read; three `in` tests cost less than `isdisjoint` (and a
# fourth key in CONTEXT_KEYS fails here, at import, rather than being missed).
_VOICE, _LIBRARY, _DEVICE = CONTEXT_KEYS
# What the loop keeps of a user agent (the last is the channel when nothing else tells).
_NO_AGENT: Final[tuple[ParsedUserAgent, Channel | None, bool, Channel]] = (
    UNKNOWN.parsed,
    UNKNOWN.channel,
    UNKNOWN.is_bot,
    UNKNOWN.channel or "web",
)


@dataclass(frozen=True, slots=True)
class EnrichConfig:
    """How events are enriched; checked when built, so a bad setting fails at start-up."""

    #: none | last_octet | hash (see `ip.py`). Truncation is the default: safe for privacy.
    ip_policy: IpPolicy = "last_octet"
    #: Key of the `hash` policy, at most 64 bytes; required by it.
    ip_hash_secret: str | bytes = b""
    #: Hosts (and their subdomains) whose referrers count as internal navigation.
    site_hosts: tuple[str, ...] = ()
    #: Look up the country of public IPs (loads geoip2fast's database once per process).
    geo: bool = True

    def __post_init__(self) -> None:
        if self.ip_policy not in IP_POLICIES:
            raise ValueError(f"ip_policy must be one of {IP_POLICIES}, got {self.ip_policy!r}")
        secret = self.secret_bytes()
        if self.ip_policy == "hash" and not secret:
            raise ValueError(
                "ip_policy 'hash' needs ip_hash_secret (an unkeyed hash of an IPv4 "
                "address is reversed by hashing all 2**32 of them)"
            )
        if len(secret) > _BLAKE2B_MAX_KEY:
            raise ValueError(f"ip_hash_secret is {len(secret)} bytes, at most 64 are allowed")
        if isinstance(self.site_hosts, str):
            raise TypeError("site_hosts must be a tuple of host names, not one string")

    def secret_bytes(self) -> bytes:
        secret = self.ip_hash_secret
        return secret.encode() if isinstance(secret, str) else bytes(secret)


@lru_cache(maxsize=1024)  # bounded by the database's country codes
def geo_record(country: str | None) -> dict[str, str | None]:
    """The record's `geo` for a country, shared like the other FrozenDicts of records."""
    return FrozenDict(country=country)


_NO_GEO: Final = geo_record(None)


class Enricher:
    """Turns parsed events into the records of `clickstream.events`; one per process, reused.

    Safe to share between threads: its own state is caches whose every update is one assignment.
    """

    def __init__(self, config: EnrichConfig | None = None) -> None:
        self.config = config or EnrichConfig()
        self._ip = ip_resolver(self.config.ip_policy, self.config.secret_bytes(), self.config.geo)
        self._landings = landings = Landings()
        self._landing_of = landings.records.get  # bound once: `records` is never replaced
        # (Host header, site hosts) of the last request, with its internal hosts and scope.
        self._last_request: tuple[str | None, tuple[str, ...], InternalHosts | None, int] = (
            None,
            (),
            None,
            -1,
        )
        warm_up()

    def enrich(self, event: IncomingEvent, ctx: RequestContext) -> ClickEvent:
        """The enriched record of one event received in the request described by `ctx`."""
        return self.enrich_batch((event,), ctx)[0]

    def enrich_batch(
        self, events: Iterable[IncomingEvent], ctx: RequestContext
    ) -> list[ClickEvent]:
        """`enrich` for every event of one request, in order.

        One loop and no Python call per event on the usual path, as a call costs more than most
        lines here: a batch repeats one user agent and one IP (the event's own or the request's),
        so each is resolved again only when it differs from the previous event's; campaign and
        referrer come from `Landings`; the record is built as in `record.py`.
        """
        last = self._last_request
        if ctx.host == last[0] and ctx.site_hosts is last[1] and last[2] is not None:
            internal, scope = last[2], last[3]
        else:
            internal, scope = self._request_scope(ctx)
        landing_of = self._landing_of
        resolve_ip = self._ip
        ctx_ua = ctx.user_agent
        ctx_ip = ctx.client_ip
        received_ts = ctx.received_ts
        last_ua: str | None = None
        parsed, ua_channel, is_bot, default_channel = _NO_AGENT
        last_ip: str | None = None
        ip = None
        geo = _NO_GEO
        last_sent: int | None = None
        skew = None  # received_ts - sent_ts of the last sent_ts seen
        out: list[ClickEvent] = []
        append = out.append
        for event in events:
            ua = event["user_agent"] or ctx_ua
            if ua != last_ua:
                agent = parse_user_agent(ua) if ua else UNKNOWN
                parsed, ua_channel, is_bot = agent.parsed, agent.channel, agent.is_bot
                default_channel = ua_channel or "web"
                last_ua = ua
            raw_ip = event["ip"] or ctx_ip
            if raw_ip != last_ip:
                ip, country = resolve_ip(raw_ip) if raw_ip else (None, None)
                geo = geo_record(country)
                last_ip = raw_ip
            channel = event.get("channel")
            if channel is None:
                context = event["context"]
                if context and (_VOICE in context or _LIBRARY in context or _DEVICE in context):
                    channel = resolve_channel(None, context, ua_channel)
                else:  # what resolve_channel answers for a context naming none of them
                    channel = default_channel
            request = event["request"]
            page_url = request["url"]
            referrer_url = event["referrer"]
            declared = event["campaign"]
            if not declared:
                landing = landing_of((referrer_url, page_url, scope))
                if landing is None:
                    landing = self._landings.derive(referrer_url, page_url, internal, scope)
            else:  # the client's own campaign: not remembered (see landing.py)
                campaign = campaign_of(declared, page_url)
                landing = frozen_landing(
                    campaign, classify(referrer_url, page_url, campaign, internal)
                )
            client_ts = event["client_ts"]
            sent_ts = event["sent_ts"]
            if sent_ts is not last_sent:  # one per batch: a big-int subtraction saved per event
                skew = None if sent_ts is None else received_ts - sent_ts
                last_sent = sent_ts
            record = RecordFields()  # every field, in ClickEvent's order
            record.event_id = event["event_id"]
            record.event = event["event"]
            record.channel = channel
            record.client_ts = client_ts
            record.sent_ts = sent_ts
            record.received_ts = received_ts
            # timing.corrected_ts, inlined: received - (sent - client)
            record.ts = received_ts if client_ts is None or skew is None else client_ts + skew
            record.user_id = event["user_id"]
            record.anonymous_id = event["anonymous_id"]
            record.session_id = event["session_id"]
            record.request = request
            record.user_agent = parsed
            record.ip = ip
            record.geo = geo
            record.referrer = landing[1]
            record.campaign = landing[0]
            record.traits = event["traits"]
            record.is_bot = is_bot
            append(record.__dict__)  # type: ignore[arg-type]
        return out

    def _request_scope(self, ctx: RequestContext) -> tuple[InternalHosts, int]:
        """Internal hosts of the request and their `Landings` scope, kept for the next request
        (the Host header and site hosts of a collector's requests hardly ever change)."""
        host, sites = ctx.host, ctx.site_hosts
        configured = self.config.site_hosts
        internal = internal_hosts(
            host, sites + configured if configured and configured != sites else sites
        )
        scope = self._landings.scope(internal)
        self._last_request = (host, sites, internal, scope)
        return internal, scope
