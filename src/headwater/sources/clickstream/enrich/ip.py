"""Client IP → the address kept (anonymised per policy) and its country.

Policies:
- `none`: the address as parsed, in its canonical text form.
- `last_octet`: IPv4 with the last octet zeroed (203.0.113.0), IPv6 with only its first 48 bits
  kept (2001:db8:85a3::) — the usual "IP truncation" of web analytics.
- `hash`: keyed BLAKE2b of the packed address (the same address in any spelling gives the same
  value), 32 hex characters. Without the secret the value cannot be reversed by trying all IPv4
  addresses; rotating the secret breaks the link between old and new values.

The country is looked up on the original address, before it is anonymised, in geoip2fast's
offline database (IPv4 and IPv6, shipped in its wheel, loaded once per process: ~0.1 s, ~30 MB).
Private, loopback, link-local, reserved and unparseable addresses have no country, and an
unparseable address is not kept at all. `::ffff:a.b.c.d` counts as the IPv4 address.
Results are cached per address string: repeat visitors cost a dictionary lookup.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, Final, Literal

IpPolicy = Literal["none", "last_octet", "hash"]
IP_POLICIES: Final = ("none", "last_octet", "hash")
#: Distinct client addresses remembered.
CACHE_SIZE = 65_536
#: geoip2fast's database covering both address families (the default file is IPv4 only).
GEO_DATA_FILE = "geoip2fast-ipv6.dat.gz"

_IPV4_KEEP: Final = 0xFFFF_FF00
_IPV6_KEEP: Final = ((1 << 48) - 1) << 80
_geo_lock = threading.Lock()
_geo_db: Any = None

Address = IPv4Address | IPv6Address


def geo_database() -> Any:
    """geoip2fast's reader, loaded on first use and shared by the whole process."""
    global _geo_db
    with _geo_lock:
        if _geo_db is None:
            from geoip2fast import GeoIP2Fast  # type: ignore[import-untyped]

            _geo_db = GeoIP2Fast(verbose=False, geoip2fast_data_file=GEO_DATA_FILE)
        return _geo_db


def parse_ip(raw: str) -> Address | None:
    """The address in `raw`, tolerating a port (`1.2.3.4:80`, `[::1]:80`); None if there is none."""
    text = raw.strip()
    try:
        addr = ip_address(text)
    except ValueError:
        if text.startswith("["):
            text = text[1 : text.find("]")]
        elif text.count(":") == 1:
            text = text.partition(":")[0]
        else:
            return None
        try:
            addr = ip_address(text)
        except ValueError:
            return None
    if isinstance(addr, IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def anonymise(addr: Address, policy: IpPolicy, secret: bytes = b"") -> str:
    """The address as stored under `policy` (see the module docstring)."""
    if policy == "none":
        return str(addr)
    if policy == "last_octet":
        if isinstance(addr, IPv4Address):
            return str(IPv4Address(int(addr) & _IPV4_KEEP))
        return str(IPv6Address(int(addr) & _IPV6_KEEP))
    if policy == "hash":
        return hashlib.blake2b(addr.packed, key=secret, digest_size=16).hexdigest()
    raise ValueError(f"unknown IP policy {policy!r}, expected one of {IP_POLICIES}")


def country(addr: Address) -> str | None:
    """ISO 3166-1 alpha-2 code of a public address, None when unknown or not public."""
    if not addr.is_global:
        return None
    code = geo_database().lookup(str(addr)).country_code
    return code if code and code != "--" else None


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
        addr = parse_ip(raw)
        if addr is None:
            return None, None
        return anonymise(addr, policy, secret), country(addr) if geo else None

    return resolve
