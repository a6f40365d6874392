"""IncomingEvent + RequestContext → ClickEvent, end to end, and the configuration's checks."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.sources.clickstream.enrich import EnrichConfig, Enricher
from headwater.sources.clickstream.model import RequestContext
from tests.sources.clickstream.enrich.helpers import incoming
from tests.sources.clickstream.enrich.test_user_agent import (
    ALEXA,
    CHROME_WINDOWS,
    OKHTTP,
    SAFARI_IPHONE,
)

RECEIVED = 1_700_000_010_000
CTX = RequestContext(
    received_ts=RECEIVED,
    client_ip="81.2.69.142",
    user_agent=SAFARI_IPHONE,
    host="collect.shop.example",
    site_hosts=("shop.example",),
)


def test_page_view_is_enriched_exactly() -> None:
    got = Enricher(EnrichConfig()).enrich(incoming(), CTX)
    assert got == {
        "event_id": "8a6c4f8e-2f4e-4f7e-9d7e-1d2c3b4a5f60",
        "event": "page",
        "channel": "web",
        "client_ts": 1_699_996_405_000,
        "sent_ts": 1_699_996_410_000,
        "received_ts": RECEIVED,
        "ts": RECEIVED - 5_000,
        "user_id": None,
        "anonymous_id": "anon-1",
        "session_id": "sess-1",
        "request": incoming()["request"],
        "user_agent": {
            "raw": SAFARI_IPHONE,
            "browser": "Mobile Safari",
            "browser_version": "17.4.1",
            "os": "iOS",
            "os_version": "17.4.1",
            "device_type": "mobile",
            "app": None,
        },
        "ip": "81.2.69.0",
        "geo": {"country": "GB"},
        "referrer": {"url": "https://mail.google.com/", "medium": "email", "source": "newsletter"},
        "campaign": {"source": "newsletter", "medium": "email", "name": "spring"},
        "traits": {},
        "is_bot": False,
    }
    assert list(got) == [  # the record's field order, as documented in model.ClickEvent
        "event_id",
        "event",
        "channel",
        "client_ts",
        "sent_ts",
        "received_ts",
        "ts",
        "user_id",
        "anonymous_id",
        "session_id",
        "request",
        "user_agent",
        "ip",
        "geo",
        "referrer",
        "campaign",
        "traits",
        "is_bot",
    ]
    orjson.dumps(got)


def test_event_context_user_agent_and_ip_win_over_the_request() -> None:
    # a server-side SDK forwards the end user's phone: the request itself came from a server
    server = RequestContext(RECEIVED, "10.0.0.5", "analytics-node/2.0", None)
    got = Enricher().enrich(incoming(user_agent=OKHTTP, ip="8.8.8.8"), server)
    assert got["user_agent"]["app"] == "okhttp/4.12.0"
    assert got["channel"] == "mobile"
    assert (got["ip"], got["geo"]) == ("8.8.8.0", {"country": "US"})


def test_request_user_agent_and_ip_fill_in() -> None:
    got = Enricher().enrich(incoming(), CTX)
    assert got["user_agent"]["raw"] == SAFARI_IPHONE
    assert got["ip"] == "81.2.69.0"


def test_no_user_agent_and_no_ip_anywhere() -> None:
    got = Enricher().enrich(incoming(), RequestContext(RECEIVED, None, None, None))
    assert got["user_agent"] == {
        "raw": None,
        "browser": None,
        "browser_version": None,
        "os": None,
        "os_version": None,
        "device_type": "other",
        "app": None,
    }
    assert (got["ip"], got["geo"], got["channel"], got["is_bot"]) == (
        None,
        {"country": None},
        "web",
        False,
    )


def test_declared_channel_wins_over_the_user_agent() -> None:
    got = Enricher().enrich(incoming(channel="desktop", user_agent=ALEXA), CTX)
    assert got["channel"] == "desktop"
    assert Enricher().enrich(incoming(user_agent=ALEXA), CTX)["channel"] == "voice"


def test_bot_is_flagged() -> None:
    got = Enricher().enrich(incoming(user_agent="curl/8.5.0"), CTX)
    assert got["is_bot"] is True
    assert got["user_agent"]["device_type"] == "bot"


def test_hash_policy_hashes_with_the_secret() -> None:
    enricher = Enricher(EnrichConfig(ip_policy="hash", ip_hash_secret="k" * 32))
    got = enricher.enrich(incoming(ip="203.0.113.77"), CTX)
    expected = hashlib.blake2b(bytes([203, 0, 113, 77]), key=b"k" * 32, digest_size=16)
    assert got["ip"] == expected.hexdigest()


def test_none_policy_without_geo() -> None:
    got = Enricher(EnrichConfig(ip_policy="none", geo=False)).enrich(incoming(ip="8.8.8.8"), CTX)
    assert (got["ip"], got["geo"]) == ("8.8.8.8", {"country": None})


def test_configured_site_hosts_make_referrers_internal() -> None:
    ctx = RequestContext(RECEIVED, None, None, None)
    page = incoming(
        referrer="https://blog.shop.example/post",
        request={
            **incoming()["request"],
            "url": "https://shop.example/p",
        },
    )
    assert Enricher().enrich(page, ctx)["referrer"]["medium"] == "other"
    configured = Enricher(EnrichConfig(site_hosts=("shop.example",)))
    assert configured.enrich(page, ctx)["referrer"]["medium"] == "internal"


def test_batch_keeps_order_and_records_share_nothing_mutable() -> None:
    events = [incoming(event_id=str(i), user_agent=CHROME_WINDOWS) for i in range(3)]
    got = Enricher().enrich_batch(events, CTX)
    assert [e["event_id"] for e in got] == ["0", "1", "2"]
    got[0]["ip"] = "changed"  # a record's own dict is the caller's: no other record changes
    got[0]["user_agent"] = {}  # type: ignore[typeddict-item]
    assert (got[1]["ip"], got[1]["user_agent"]["browser"]) == ("81.2.69.0", "Chrome")
    for name in ("user_agent", "geo", "referrer", "campaign"):  # shared between records: frozen
        part: Any = got[1][name]
        with pytest.raises(TypeError, match="read-only"):
            part["browser"] = "changed"
    campaign = got[1]["campaign"].copy()  # a copy is the caller's to change
    campaign["source"] = "changed"
    again = Enricher().enrich(events[1], CTX)
    assert again["user_agent"]["browser"] == "Chrome"
    assert again["geo"] == {"country": "GB"}
    assert again["campaign"]["source"] == "newsletter"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ip_policy": "truncate"}, "ip_policy must be one of"),
        ({"ip_policy": "hash"}, "needs ip_hash_secret"),
        ({"ip_policy": "hash", "ip_hash_secret": b"x" * 65}, "at most 64"),
    ],
)
def test_bad_configuration_fails_when_built(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EnrichConfig(**overrides)


def test_site_hosts_as_one_string_is_refused() -> None:
    with pytest.raises(TypeError, match="tuple"):
        EnrichConfig(site_hosts="shop.example")  # type: ignore[arg-type]


def test_defaults_are_safe() -> None:
    config = EnrichConfig()
    assert (config.ip_policy, config.geo, config.site_hosts) == ("last_octet", True, ())


text = st.one_of(st.none(), st.text(max_size=300))
ips = st.one_of(text, st.ip_addresses().map(str), st.ip_addresses().map(lambda a: f"[{a}]:80"))
urls = st.one_of(
    text,
    st.from_regex(
        r"[a-zA-Z]{1,6}://[\w.:@\[\]%-]{0,30}([/?#][\w=&%+#?/.-]{0,40})?", fullmatch=True
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    ua=text,
    ip=ips,
    referrer=urls,
    url=urls,
    channel=st.sampled_from([None, "web", "voice"]),
    campaign=st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=4),
    context=st.dictionaries(
        st.sampled_from(["device", "library", "voice"]),
        st.one_of(
            st.none(),
            st.text(max_size=10),
            st.dictionaries(st.sampled_from(["type", "name"]), st.text(max_size=10)),
        ),
    ),
    host=text,
)
def test_any_client_input_enriches_without_raising(
    ua: str | None,
    ip: str | None,
    referrer: str | None,
    url: str | None,
    channel: Any,
    campaign: dict[str, str],
    context: dict[str, Any],
    host: str | None,
) -> None:
    event = incoming(
        user_agent=ua,
        ip=ip,
        referrer=referrer,
        channel=channel,
        campaign=campaign,
        context=context,
        request={**incoming()["request"], "url": url},
    )
    got = Enricher().enrich(event, RequestContext(RECEIVED, None, None, host, ("shop.example",)))
    assert got["channel"] in ("web", "mobile", "desktop", "voice")
    assert got["referrer"]["medium"] in (
        "search",
        "social",
        "email",
        "paid",
        "internal",
        "direct",
        "other",
    )
    orjson.dumps(got)
