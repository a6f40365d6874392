"""Referring URL + landing page → the medium that brought the visit and its source.

The rules, first match wins (`source` in brackets):

1. paid — the landing URL carries an ad click id (gclid, gbraid, wbraid, dclid [google];
   msclkid [bing]; fbclid [facebook]; ttclid [tiktok]; twclid [twitter]; li_fat_id [linkedin])
   or utm_medium is a paid one (cpc, ppc, paid, paidsearch, display, cpm, …)
   [utm_source, else the click id's network, else the referrer's].
   fbclid is added by Facebook to organic links too; it still counts as paid, as asked of us.
2. email — utm_medium is email [utm_source, else the referrer's]; mail clients send no referrer,
   the tag is what tells.
3. social / search — utm_medium says so (social, organic).
4. direct — no referrer and no campaign [None]; other — no referrer but a campaign [utm_source].
5. internal — the referrer's host is the page's own host, the collector's host, one of the site
   hosts or a subdomain of one [that host].
6. search / social / email — a known host (`known_hosts`) [its name].
7. other — anything else [the referring host, "www." dropped].

Hosts compare without "www." and port. Per event this is a regex for the host and one cached
dictionary lookup; nothing here raises on malformed input (it just becomes "other").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from headwater.sources.clickstream.enrich.known_hosts import lookup_host
from headwater.sources.clickstream.enrich.urls import host_of, host_without_port
from headwater.sources.clickstream.model import Medium, Referrer

_CLICK_ID: Final = re.compile(
    r"[?&](gclid|gbraid|wbraid|dclid|msclkid|fbclid|ttclid|twclid|li_fat_id)="
)
# fmt: off
_CLICK_ID_SOURCE: Final = {
    "gclid": "google", "gbraid": "google", "wbraid": "google", "dclid": "google",
    "msclkid": "bing", "fbclid": "facebook", "ttclid": "tiktok", "twclid": "twitter",
    "li_fat_id": "linkedin",
}
_UTM_MEDIUM: Final[dict[str, Medium]] = {
    **dict.fromkeys(
        ("cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-search", "display", "cpm",
         "cpv", "cpa", "paidsocial", "paid_social", "paid-social"),
        "paid",
    ),
    **dict.fromkeys(("email", "e-mail", "e_mail", "newsletter"), "email"),
    **dict.fromkeys(("social", "social-media", "social_media", "social-network", "sm"), "social"),
    "organic": "search",
}
# fmt: on


@dataclass(frozen=True, slots=True)
class InternalHosts:
    """Hosts whose referrers are navigation inside the site, not a source of traffic."""

    hosts: frozenset[str]
    suffixes: tuple[str, ...]  # ".example.com" for every site host: its subdomains count too


@lru_cache(maxsize=256)
def internal_hosts(collector_host: str | None, site_hosts: tuple[str, ...]) -> InternalHosts:
    """Built once per (Host header, configured hosts); `collector_host` may carry a port."""
    sites = {h for h in (host_without_port(s) for s in site_hosts) if h}
    own = host_without_port(collector_host)
    return InternalHosts(
        frozenset(sites | {own} if own else sites), tuple(f".{h}" for h in sorted(sites))
    )


def classify(
    referrer: str | None, page_url: str | None, campaign: Mapping[str, str], internal: InternalHosts
) -> Referrer:
    """The event's `referrer` record (see the module docstring for the rules)."""
    medium: Medium | None = None
    source: str | None = None
    if page_url and "?" in page_url and (click := _CLICK_ID.search(page_url)):
        medium, source = "paid", _CLICK_ID_SOURCE[click.group(1)]
    if campaign:
        tagged = _UTM_MEDIUM.get(campaign.get("medium", "").lower())
        if tagged is not None and medium is None:
            medium = tagged
        if medium is not None:
            source = campaign.get("source") or source
    host = host_of(referrer)
    if medium is not None:
        return {"url": referrer, "medium": medium, "source": source or _source_of(host)}
    if not referrer:
        if campaign and ("source" in campaign or "medium" in campaign):
            return {"url": None, "medium": "other", "source": campaign.get("source")}
        return {"url": None, "medium": "direct", "source": None}
    if host is None:
        return {"url": referrer, "medium": "other", "source": None}
    if host in internal.hosts or host.endswith(internal.suffixes) or host == host_of(page_url):
        return {"url": referrer, "medium": "internal", "source": host}
    known = lookup_host(host)
    if known is not None:
        return {"url": referrer, "medium": known[0], "source": known[1]}
    return {"url": referrer, "medium": "other", "source": host}


def _source_of(host: str | None) -> str | None:
    if host is None:
        return None
    known = lookup_host(host)
    return known[1] if known is not None else host
