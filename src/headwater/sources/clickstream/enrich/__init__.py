"""Enrichment: a parsed `IncomingEvent` plus its `RequestContext` become a `ClickEvent`.

One module per concern, each cached per distinct input: `user_agent` (browser, OS, device, app,
bot), `referrer` with `known_hosts` (medium and source), `campaign` (utm_*), `ip` (anonymisation
and country), `timing` (clock-skew correction), `channel`; `enricher` puts them together, with
`landing` (campaign + referrer per page and referrer), `record` (building the record's dict) and
`frozen` (the read-only dicts records share).
"""

from headwater.sources.clickstream.enrich.enricher import EnrichConfig, Enricher

__all__ = ["EnrichConfig", "Enricher"]
