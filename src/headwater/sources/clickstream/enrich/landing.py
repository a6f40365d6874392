"""Referrer + page URL → the record's `campaign` and `referrer`, remembered per distinct pair.

Both are pure functions of (referrer, page URL, internal hosts) when the client declared no
campaign of its own, and a site's traffic repeats a few thousand such pairs, so the finished
records are kept as `FrozenDict`s and handed to every event with that pair. An event with a
declared campaign is not remembered (`campaign_of` and `classify` run for it): the declared
values are the client's, unbounded.

The internal hosts differ per collector host name (the Host header), so each distinct
`InternalHosts` gets a scope number that is part of the key. Numbers are never reused, so an
entry of a forgotten scope can never answer for another. Both tables are bounded: when one is
full it is emptied, and a pair longer than `MAX_REMEMBERED_CHARS` is computed every time, never
kept: a hostile client cycling through distinct or huge URLs costs CPU, not memory (at most
`CACHE_SIZE` pairs of at most `MAX_REMEMBERED_CHARS`: tens of MB). Every update is a single
dict operation, so threads may share one `Landings`.
"""

from __future__ import annotations

from itertools import count
from typing import Final, cast

from headwater.sources.clickstream.enrich.campaign import campaign_of
from headwater.sources.clickstream.enrich.frozen import FrozenDict
from headwater.sources.clickstream.enrich.referrer import InternalHosts, classify
from headwater.sources.clickstream.model import Referrer

#: Distinct (referrer, page URL, scope) triples remembered.
CACHE_SIZE = 20_000
#: Longest referrer + page URL remembered; real ones, ad click ids included, are far shorter.
MAX_REMEMBERED_CHARS = 1024
#: Distinct internal-host sets remembered (the collector's host names, normally one).
SCOPES = 256
_NO_DECLARED_CAMPAIGN: Final[dict[str, str]] = {}

Key = tuple[str | None, str | None, int]
#: (campaign, referrer), both FrozenDicts.
Landing = tuple[dict[str, str], Referrer]


class Landings:
    """The remembered (campaign, referrer) records.

    Readers look up `records.get((referrer, page_url, scope))` themselves (the hot path is one
    dictionary lookup) and call `derive` on a miss; the dict object stays the same when emptied.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.records: dict[Key, Landing] = {}
        self._scopes: dict[InternalHosts, int] = {}
        self._numbers = count()

    def scope(self, internal: InternalHosts) -> int:
        """The number of this set of internal hosts (callers keep it for their next request:
        hashing an `InternalHosts` costs more than the lookups of a whole small batch)."""
        number = self._scopes.get(internal)
        if number is None:
            if len(self._scopes) >= SCOPES:
                self._scopes.clear()
            number = self._scopes[internal] = next(self._numbers)
        return number

    def derive(
        self, referrer: str | None, page_url: str | None, internal: InternalHosts, scope: int
    ) -> Landing:
        """Compute and remember the records of a pair not seen in `scope` yet."""
        campaign = campaign_of(_NO_DECLARED_CAMPAIGN, page_url)
        landing = frozen_landing(campaign, classify(referrer, page_url, campaign, internal))
        if len(referrer or "") + len(page_url or "") > MAX_REMEMBERED_CHARS:
            return landing
        records = self.records
        if len(records) >= self.size:
            records.clear()
        records[(referrer, page_url, scope)] = landing
        return landing


def frozen_landing(campaign: dict[str, str], referrer: Referrer) -> Landing:
    """The pair as the record carries it: read-only, as it may be shared."""
    return FrozenDict(campaign), cast(Referrer, FrozenDict(referrer))
