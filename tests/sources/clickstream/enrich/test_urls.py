"""Hosts and query strings cut out of URLs, odd ones included."""

from __future__ import annotations

import pytest

from headwater.sources.clickstream.enrich.urls import host_of, host_without_port, query_of


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.Example.com/a?b#c", "example.com"),
        ("https://example.com", "example.com"),
        ("https://example.com:8443/x", "example.com"),
        ("https://example.com?x=1", "example.com"),
        ("https://example.com#top", "example.com"),
        ("https://user:pw@example.com/", "example.com"),
        ("https://[2001:db8::1]:8443/", "[2001:db8::1]"),
        ("https://example.com./", "example.com"),
        ("HTTPS://WWW.EXAMPLE.COM/", "example.com"),
        ("android-app://com.google.android.gm/", "com.google.android.gm"),
        ("//example.com/protocol-relative", None),
        ("/relative/path", None),
        ("example.com/no-scheme", None),
        ("https:///no-host", None),
        ("", None),
        (None, None),
    ],
)
def test_host_of(url: str | None, host: str | None) -> None:
    assert host_of(url) == host


@pytest.mark.parametrize(
    ("authority", "host"),
    [
        ("Collect.Example.com:8080", "collect.example.com"),
        ("www.example.com", "example.com"),
        ("[::1]:8080", "[::1]"),
        ("", None),
        (None, None),
    ],
)
def test_host_without_port(authority: str | None, host: str | None) -> None:
    assert host_without_port(authority) == host


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("https://e.com/p?a=1&b=2#frag", "a=1&b=2"),
        ("https://e.com/p?a=1", "a=1"),
        ("https://e.com/p#x?y", ""),
        ("https://e.com/p", ""),
    ],
)
def test_query_of(url: str, query: str) -> None:
    assert query_of(url) == query
