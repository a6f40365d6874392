"""The known-host table matches whole labels: parents of a host, brands under country TLDs."""

from __future__ import annotations

import pytest

from headwater.sources.clickstream.enrich.known_hosts import lookup_host


@pytest.mark.parametrize(
    ("host", "known"),
    [
        ("google.com", ("search", "google")),
        ("news.google.com", ("search", "google")),
        ("mail.google.com", ("email", "gmail")),
        ("google.co.jp", ("search", "google")),
        ("yahoo.co.jp", ("search", "yahoo")),
        ("mail.yahoo.com", ("email", "yahoo")),
        ("t.co", ("social", "twitter")),
        ("lm.facebook.com", ("social", "facebook")),
        ("facebook.de", ("social", "facebook")),
        ("com.google.android.gm", ("email", "gmail")),
        ("notgoogle.com", None),
        ("google.example.org", None),
        ("co", None),
        ("localhost", None),
        ("", None),
    ],
)
def test_lookup_host(host: str, known: tuple[str, str] | None) -> None:
    assert lookup_host(host) == known
