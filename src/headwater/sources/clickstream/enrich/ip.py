"""Client IP → the address kept (anonymised per policy) and its country.

Policies:
- `none`: the address as parsed, in its canonical text form.
- `last_octet`: IPv4 with the last octet zeroed (203.0.113.0), IPv6 with only its first 48 bits
  kept (2001:db8:85a3::) — the usual "IP truncation" of web analytics.
- `hash`: keyed BLAKE2b of the packed address (the same address in any spelling gives the same
  value), 32 hex characters. Without the secret the value cannot be reversed by trying all IPv4
  addresses; rotating the secret breaks the link between old and new values.

The country is looked up on the original address, before it is anonymised, in geoip2fast's
offline database (IPv4 and IPv6, shipped in its wheel, loaded once per process: ~0.1 s, ~60 MB).
Private, loopback, link-local, multicast, documentation and other reserved ranges have no country
there ("--"), nor have unparseable addresses, which are not kept at all either.
`::ffff:a.b.c.d` counts as the IPv4 address.
Results are cached per address string: repeat visitors cost a dictionary lookup.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections.abc import Callable
from functools import lru_cache
from socket import AF_INET, AF_INET6, inet_ntop, inet_pton
from typing import Any, Final, Literal

IpPolicy = Literal["none", "last_octet", "hash"]
IP_POLICIES: Final = ("none", "last_octet", "hash")
#: Distinct client addresses remembered.
CACHE_SIZE = 65_536
#: geoip2fast's database covering both address families (the default file is IPv4 only).
GEO_DATA_FILE = "geoip2fast-ipv6.dat.gz"
#: geoip2fast's code for private, reserved and unknown networks.
_NO_COUNTRY: Final = frozenset({"", "--"})
_V4_MAPPED: Final = bytes(10) + b"\xff\xff"

_geo_lock = threading.Lock()
_geo_db: Any = None


def geo_database() -> Any:
    """geoip2fast's reader, loaded on first use and shared by the whole process."""
    global _geo_db
    with _geo_lock:
        if _geo_db is None:
            with warnings.catch_warnings():  # its source has invalid escapes: warned at compile
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", SyntaxWarning)
                from geoip2fast import GeoIP2Fast  # type: ignore[import-untyped]

            _geo_db = GeoIP2Fast(verbose=False, geoip2fast_data_file=GEO_DATA_FILE)
        return _geo_db


def parse_ip(raw: str) -> bytes | None:
    """The packed address (4 or 16 bytes) in `raw`, tolerating a port (`1.2.3.4:80`,
    `[::1]:80`) and an IPv6 zone (`fe80::1%eth0`); None if there is none.

    `socket.inet_pton` is strict (no "1.2.3" shorthand, no leading zeros) and ten times faster
    than the `ipaddress` module."""
    text = raw.strip()
    if ":" not in text:
        family = AF_INET
    elif text.count(":") == 1 and "." in text:  # a.b.c.d:port
        family, text = AF_INET, text.partition(":")[0]
    else:
        family = AF_INET6
        if text.startswith("["):
            text = text[1 : text.find("]")]
        text = text.partition("%")[0]
    try:
        packed = inet_pton(family, text)
    except (OSError, ValueError):  # ValueError: an embedded NUL
        return None
    if len(packed) == 16 and packed[:12] == _V4_MAPPED:
        return packed[12:]
    return packed


def text_of(packed: bytes) -> str:
    """Canonical text form: dotted quad, or compressed lower-case IPv6."""
    return inet_ntop(AF_INET if len(packed) == 4 else AF_INET6, packed)


def anonymise(packed: bytes, policy: IpPolicy, secret: bytes = b"") -> str:
    """The address as stored under `policy` (see the module docstring)."""
    if policy == "none":
        return text_of(packed)
    if policy == "last_octet":
        if len(packed) == 4:
            return inet_ntop(AF_INET, packed[:3] + b"\0")
        return inet_ntop(AF_INET6, packed[:6] + bytes(10))
    if policy == "hash":
        return hashlib.blake2b(packed, key=secret, digest_size=16).hexdigest()
    raise ValueError(f"unknown IP policy {policy!r}, expected one of {IP_POLICIES}")


def country(packed: bytes) -> str | None:
    """ISO 3166-1 alpha-2 code of a public address, None when unknown or not public."""
    code: str = geo_database().lookup(text_of(packed)).country_code
    return None if code in _NO_COUNTRY else code


def ip_resolver(
    policy: IpPolicy, secret: bytes, geo: bool, cache_size: int = CACHE_SIZE
) -> Callable[[str], tuple[str | None, str | None]]:
    """A cached `raw address -> (kept address, country)` for one policy."""
    if policy not in IP_POLICIES:
        raise ValueError(f"unknown IP policy {policy!r}, expected one of {IP_POLICIES}")
    if geo:
        geo_database()

    @lru_cache(maxsize=cache_size)
    def resolve(raw: str) -> tuple[str | None, str | None]:
        packed = parse_ip(raw)
        if packed is None:
            return None, None
        return anonymise(packed, policy, secret), country(packed) if geo else None

    return resolve
