"""Enrichment: a parsed `IncomingEvent` plus its `RequestContext` become a `ClickEvent`.

One module per concern, each cached per distinct input: `user_agent` (browser, OS, device, app,
bot), `referrer` with `known_hosts` (medium and source), `campaign` (utm_*), `ip` (anonymisation
and country), `timing` (clock-skew correction), `channel`; `enricher` puts them together.
"""

from headwater.sources.clickstream.enrich.enricher import EnrichConfig, Enricher

__all__ = ["EnrichConfig", "Enricher"]
