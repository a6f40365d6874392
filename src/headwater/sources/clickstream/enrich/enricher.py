"""IncomingEvent + RequestContext → ClickEvent: the one place the enriched record is assembled.

The event's own user agent and IP (Segment `context.userAgent` / `context.ip`) win over the HTTP
request's: server-side SDKs forward events on behalf of end users, and the request then comes
from the forwarding server. Everything per distinct value (user agent, IP, referring host) is
cached, so a steady stream costs a few dictionary lookups and one dict per event. Enrichment
never raises on what a client sent: unknown or malformed values become None / "other".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from headwater.sources.clickstream.enrich.campaign import campaign_of
from headwater.sources.clickstream.enrich.channel import resolve_channel
from headwater.sources.clickstream.enrich.ip import IP_POLICIES, IpPolicy, ip_resolver
from headwater.sources.clickstream.enrich.referrer import InternalHosts, classify, internal_hosts
from headwater.sources.clickstream.enrich.timing import corrected_ts
from headwater.sources.clickstream.enrich.user_agent import UNKNOWN, parse_user_agent, warm_up
from headwater.sources.clickstream.model import ClickEvent, IncomingEvent, RequestContext

_BLAKE2B_MAX_KEY = 64


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


class Enricher:
    """Turns parsed events into the records of `clickstream.events`; one per process, reused."""

    def __init__(self, config: EnrichConfig | None = None) -> None:
        self.config = config or EnrichConfig()
        self._ip = ip_resolver(self.config.ip_policy, self.config.secret_bytes(), self.config.geo)
        warm_up()

    def enrich(self, event: IncomingEvent, ctx: RequestContext) -> ClickEvent:
        """The enriched record of one event received in the request described by `ctx`."""
        return self._enrich(event, ctx, self._internal(ctx))

    def enrich_batch(
        self, events: Iterable[IncomingEvent], ctx: RequestContext
    ) -> list[ClickEvent]:
        """`enrich` for every event of one request, in order."""
        internal = self._internal(ctx)
        enrich = self._enrich
        return [enrich(event, ctx, internal) for event in events]

    def _internal(self, ctx: RequestContext) -> InternalHosts:
        sites = ctx.site_hosts
        configured = self.config.site_hosts
        if configured and configured != sites:
            sites = sites + configured
        return internal_hosts(ctx.host, sites)

    def _enrich(
        self, event: IncomingEvent, ctx: RequestContext, internal: InternalHosts
    ) -> ClickEvent:
        ua = event["user_agent"] or ctx.user_agent
        agent = parse_user_agent(ua) if ua else UNKNOWN
        raw_ip = event["ip"] or ctx.client_ip
        ip, country = self._ip(raw_ip) if raw_ip else (None, None)
        request = event["request"]
        page_url = request["url"]
        campaign = campaign_of(event["campaign"], page_url)
        client_ts = event["client_ts"]
        sent_ts = event["sent_ts"]
        received_ts = ctx.received_ts
        return {
            "event_id": event["event_id"],
            "event": event["event"],
            "channel": resolve_channel(event.get("channel"), event["context"], agent.channel),
            "client_ts": client_ts,
            "sent_ts": sent_ts,
            "received_ts": received_ts,
            "ts": corrected_ts(received_ts, client_ts, sent_ts),
            "user_id": event["user_id"],
            "anonymous_id": event["anonymous_id"],
            "session_id": event["session_id"],
            "request": request,
            "user_agent": agent.parsed.copy(),
            "ip": ip,
            "geo": {"country": country},
            "referrer": classify(event["referrer"], page_url, campaign, internal),
            "campaign": campaign,
            "traits": event["traits"],
            "is_bot": agent.is_bot,
        }
