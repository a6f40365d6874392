"""The two pieces of a URL enrichment reads: its host and its query string.

`urllib.parse.urlsplit` builds five fields and validates each; enrichment runs per event at
hundreds of thousands of events a second and needs only these two, so an anchored regex (host,
cached per URL: the same referrers and pages come back all the time) and two `str.find` calls
(query) do it. Nothing here raises: a string that is not an absolute URL has no host.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Distinct URLs whose host is remembered.
CACHE_SIZE = 50_000

# The common case: scheme "://" ["www."] name, then the path, query, fragment, a port or the end
# (a colon not followed by a port is userinfo: left to the general pattern).
_PLAIN = re.compile(
    r"[a-z][a-z0-9+.\-]*://(?:www\.)?([^/?#:@\[]+)(?=[/?#]|:\d*(?:[/?#]|$)|$)", re.IGNORECASE
)
# Any authority: scheme "://" [userinfo "@"] ( "[" IPv6 "]" | name ).
_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://(?:[^/?#@]*@)?(\[[^\]/?#]*\]|[^/?#:]*)")


@lru_cache(maxsize=CACHE_SIZE)
def host_of(url: str | None) -> str | None:
    """Lower-case host of an absolute URL (`android-app://pkg/` too), without port or "www.".

    "www." is dropped so that `www.example.com` and `example.com` compare equal and a source is
    named once; the hosts of the known-referrer table are written without it.
    """
    if not url:
        return None
    match = _PLAIN.match(url) or _AUTHORITY.match(url)
    if match is None:
        return None
    host = match.group(1).lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return host or None


def host_without_port(authority: str | None) -> str | None:
    """`Example.com:8080` → `example.com` (an HTTP Host header), "www." dropped as in host_of."""
    if not authority:
        return None
    host = authority.strip().lower()
    if host.startswith("["):  # [v6]:port
        end = host.find("]")
        host = host[: end + 1] if end >= 0 else host
    else:
        host = host.partition(":")[0]
    host = host.rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return host or None


def query_of(url: str) -> str:
    """The query string without "?" and without the fragment ("" when there is none)."""
    end = url.find("#")
    if end < 0:
        end = len(url)
    start = url.find("?", 0, end)
    return "" if start < 0 else url[start + 1 : end]
