"""IP anonymisation per policy and country lookup on the original address."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest

from headwater.sources.clickstream.enrich import ip
from headwater.sources.clickstream.enrich.ip import anonymise, country, ip_resolver, parse_ip


@pytest.mark.parametrize(
    ("raw", "last_octet"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("81.2.69.142", "81.2.69.0"),
        ("  10.1.2.3 ", "10.1.2.0"),
        ("203.0.113.77:51234", "203.0.113.0"),
        ("::ffff:203.0.113.77", "203.0.113.0"),
        ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::"),
        ("2A02:8108:1234:5678::1", "2a02:8108:1234::"),
        ("[2001:db8:85a3::1]:443", "2001:db8:85a3::"),
        ("fe80::1%eth0", "fe80::"),
    ],
)
def test_last_octet_zeroes_ipv4_octet_and_keeps_48_bits_of_ipv6(raw: str, last_octet: str) -> None:
    packed = parse_ip(raw)
    assert packed is not None
    assert anonymise(packed, "last_octet") == last_octet


def test_none_policy_keeps_the_canonical_address() -> None:
    assert anonymise(parse_ip("2001:DB8:0:0::1") or b"", "none") == "2001:db8::1"
    assert anonymise(parse_ip("::ffff:8.8.8.8") or b"", "none") == "8.8.8.8"


def test_hash_is_keyed_blake2b_of_the_packed_address() -> None:
    packed = bytes([203, 0, 113, 77])
    expected = hashlib.blake2b(packed, key=b"s3cret", digest_size=16).hexdigest()
    assert anonymise(packed, "hash", b"s3cret") == expected
    assert len(expected) == 32
    assert anonymise(packed, "hash", b"other") != expected
    assert anonymise(parse_ip("::ffff:203.0.113.77") or b"", "hash", b"s3cret") == expected


@pytest.mark.parametrize(
    "raw", ["", "garbage", "1.2.3", "01.2.3.4", "256.1.1.1", "1.2.3.4.5", ":::", "1.2.3.4\x00"]
)
def test_unparseable_addresses_are_none(raw: str) -> None:
    assert parse_ip(raw) is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("8.8.8.8", "US"),
        ("81.2.69.142", "GB"),
        ("2a02:8108::1", "DE"),
        ("::ffff:8.8.8.8", "US"),
        ("127.0.0.1", None),
        ("10.0.0.1", None),
        ("192.168.1.1", None),
        ("100.64.0.1", None),
        ("169.254.1.1", None),
        ("224.0.0.1", None),
        ("::1", None),
        ("fe80::1", None),
        ("2001:db8::1", None),
    ],
)
def test_country_of_public_addresses_only(raw: str, code: str | None) -> None:
    packed = parse_ip(raw)
    assert packed is not None
    assert country(packed) == code


def test_resolver_looks_up_the_country_of_the_original_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up: list[str] = []

    class Database:
        def lookup(self, text: str) -> SimpleNamespace:
            looked_up.append(text)
            return SimpleNamespace(country_code="GB")

    monkeypatch.setattr(ip, "_geo_db", Database())
    resolve = ip_resolver("last_octet", b"", geo=True)
    assert resolve("81.2.69.142") == ("81.2.69.0", "GB")
    assert resolve("81.2.69.142") == ("81.2.69.0", "GB")
    assert looked_up == ["81.2.69.142"]  # and once only: cached per address


def test_resolver_with_the_real_database() -> None:
    resolve = ip_resolver("last_octet", b"", geo=True)
    assert resolve("8.8.8.8") == ("8.8.8.0", "US")
    assert resolve("127.0.0.1") == ("127.0.0.0", None)
    assert resolve("not an ip") == (None, None)


def test_resolver_without_geo_gives_no_country() -> None:
    assert ip_resolver("none", b"", geo=False)("8.8.8.8") == ("8.8.8.8", None)


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown IP policy"):
        ip_resolver("truncate", b"", geo=False)  # type: ignore[arg-type]
