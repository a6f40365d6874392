"""Enrichment spelled out one event at a time, as `Enricher` did before it was made fast.

The straightforward composition of the concern modules, with no cache of its own, no state kept
from one event to the next and fresh dicts everywhere: what `Enricher.enrich_batch` must equal.
"""

from __future__ import annotations

from headwater.sources.clickstream.enrich import EnrichConfig
from headwater.sources.clickstream.enrich.campaign import campaign_of
from headwater.sources.clickstream.enrich.channel import resolve_channel
from headwater.sources.clickstream.enrich.ip import ip_resolver
from headwater.sources.clickstream.enrich.referrer import classify, internal_hosts
from headwater.sources.clickstream.enrich.timing import corrected_ts
from headwater.sources.clickstream.enrich.user_agent import UNKNOWN, parse_user_agent
from headwater.sources.clickstream.model import ClickEvent, IncomingEvent, RequestContext


class ReferenceEnricher:
    """`Enricher`'s contract, read off the concern modules line by line."""

    def __init__(self, config: EnrichConfig | None = None) -> None:
        self.config = config or EnrichConfig()
        self._ip = ip_resolver(self.config.ip_policy, self.config.secret_bytes(), self.config.geo)

    def enrich_batch(self, events: list[IncomingEvent], ctx: RequestContext) -> list[ClickEvent]:
        return [self.enrich(event, ctx) for event in events]

    def enrich(self, event: IncomingEvent, ctx: RequestContext) -> ClickEvent:
        sites = ctx.site_hosts
        configured = self.config.site_hosts
        if configured and configured != sites:
            sites = sites + configured
        internal = internal_hosts(ctx.host, sites)
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
            "user_agent": dict(agent.parsed),  # type: ignore[typeddict-item]
            "ip": ip,
            "geo": {"country": country},
            "referrer": classify(event["referrer"], page_url, campaign, internal),
            "campaign": campaign,
            "traits": event["traits"],
            "is_bot": agent.is_bot,
        }
