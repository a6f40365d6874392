"""The campaign an event came with: utm_* values, without the prefix.

Keys follow Segment's `context.campaign`: source, medium, name (utm_campaign), term, content;
other utm_* parameters (utm_id, …) keep their own name. The client's campaign wins when it sent
one (Segment's analytics.js reads it from the landing URL already); otherwise the page URL's
query string is read. Values are kept as sent; the first of a repeated parameter wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Final
from urllib.parse import unquote_plus

from headwater.sources.clickstream.enrich.urls import query_of

#: Distinct landing-page query strings remembered.
CACHE_SIZE = 10_000
_KEYS: Final = frozenset({"source", "medium", "name", "term", "content"})


def campaign_of(declared: Mapping[str, str], page_url: str | None) -> dict[str, str]:
    """A fresh dict; empty when neither the client nor the page URL names a campaign."""
    if declared:
        if _KEYS.issuperset(declared):
            return dict(declared)
        return dict(_normalised(declared.items()))
    if not page_url or "utm_" not in page_url:
        return {}
    return dict(_from_query(query_of(page_url)))


@lru_cache(maxsize=CACHE_SIZE)
def _from_query(query: str) -> tuple[tuple[str, str], ...]:
    """utm_* parameters of a query string, decoded (cached: a campaign's landing URL repeats)."""
    pairs = []
    for part in query.split("&"):
        if part.startswith("utm_"):
            key, _, value = part.partition("=")
            pairs.append((key, unquote_plus(value) if "%" in value or "+" in value else value))
    return _normalised(pairs)


def _normalised(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    out: dict[str, str] = {}
    for key, value in pairs:
        name = key[4:] if key.startswith("utm_") else key
        if name == "campaign":
            name = "name"
        if value and name and name not in out:
            out[name] = value
    return tuple(out.items())
