"""Referrer + landing page → medium and source, one case per rule."""

from __future__ import annotations

import pytest

from headwater.sources.clickstream.enrich.referrer import classify, internal_hosts

PAGE = "https://www.shop.example/products/42"
SITE = internal_hosts("collect.shop.example:8443", ("shop.example", "shop-cdn.example"))


@pytest.mark.parametrize(
    ("referrer", "medium", "source"),
    [
        ("https://www.google.com/", "search", "google"),
        ("https://www.google.co.uk/search?q=shoes", "search", "google"),
        ("https://www.google.com.br/", "search", "google"),
        ("https://www.bing.com/search?q=shoes&form=QBLH", "search", "bing"),
        ("https://duckduckgo.com/", "search", "duckduckgo"),
        ("https://search.yahoo.com/search?p=shoes", "search", "yahoo"),
        ("https://www.baidu.com/link?url=abc", "search", "baidu"),
        ("https://yandex.ru/search/?text=shoes", "search", "yandex"),
        ("android-app://com.google.android.googlequicksearchbox/", "search", "google"),
        ("https://l.facebook.com/l.php?u=https%3A%2F%2Fshop.example", "social", "facebook"),
        ("https://m.facebook.com/", "social", "facebook"),
        ("https://l.instagram.com/?u=x", "social", "instagram"),
        ("https://t.co/AbC123", "social", "twitter"),
        ("https://x.com/someone/status/1", "social", "twitter"),
        ("https://twitter.com/", "social", "twitter"),
        ("https://www.linkedin.com/feed/", "social", "linkedin"),
        ("https://out.reddit.com/t3_abc", "social", "reddit"),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "social", "youtube"),
        ("https://www.tiktok.com/", "social", "tiktok"),
        ("https://www.pinterest.de/pin/1/", "social", "pinterest"),
        ("https://mail.google.com/mail/u/0/", "email", "gmail"),
        ("https://outlook.live.com/mail/0/inbox", "email", "outlook"),
        ("https://mail.yahoo.com/d/folders/1", "email", "yahoo"),
        ("android-app://com.google.android.gm/", "email", "gmail"),
        ("https://www.shop.example/cart", "internal", "shop.example"),
        ("https://blog.shop.example/post", "internal", "blog.shop.example"),
        ("https://img.shop-cdn.example/x", "internal", "img.shop-cdn.example"),
        ("https://collect.shop.example/", "internal", "collect.shop.example"),
        ("https://someblog.net/post/1", "other", "someblog.net"),
        ("https://notgoogle.com/", "other", "notgoogle.com"),
        ("https://google.evil.example/", "other", "google.evil.example"),
        ("not a url", "other", None),
    ],
)
def test_referrer_host_decides_medium(referrer: str, medium: str, source: str | None) -> None:
    assert classify(referrer, PAGE, {}, SITE) == {
        "url": referrer,
        "medium": medium,
        "source": source,
    }


def test_no_referrer_is_direct() -> None:
    assert classify(None, PAGE, {}, SITE) == {"url": None, "medium": "direct", "source": None}
    assert classify("", PAGE, {}, SITE) == {"url": None, "medium": "direct", "source": None}


def test_referrer_from_the_page_own_host_is_internal_without_configuration() -> None:
    nothing = internal_hosts(None, ())
    got = classify("https://news.example/a", "https://news.example/b", {}, nothing)
    assert got == {"url": "https://news.example/a", "medium": "internal", "source": "news.example"}


@pytest.mark.parametrize(
    ("landing", "source"),
    [
        ("https://shop.example/?gclid=EAIaIQobChMI", "google"),
        ("https://shop.example/p?x=1&msclkid=abc", "bing"),
        ("https://shop.example/p?fbclid=IwAR0", "facebook"),
        ("https://shop.example/p?ttclid=E.C.P", "tiktok"),
    ],
)
def test_ad_click_id_on_landing_page_is_paid(landing: str, source: str) -> None:
    got = classify("https://www.google.com/", landing, {}, SITE)
    assert got == {"url": "https://www.google.com/", "medium": "paid", "source": source}


@pytest.mark.parametrize("medium", ["cpc", "PPC", "paid", "paidsearch", "display", "cpm"])
def test_paid_utm_medium_is_paid_and_named_by_utm_source(medium: str) -> None:
    campaign = {"source": "newsletter-partner", "medium": medium}
    got = classify("https://someblog.net/", PAGE, campaign, SITE)
    assert got == {"url": "https://someblog.net/", "medium": "paid", "source": "newsletter-partner"}


def test_paid_without_utm_source_is_named_by_the_referrer() -> None:
    got = classify("https://www.bing.com/", PAGE, {"medium": "cpc"}, SITE)
    assert got == {"url": "https://www.bing.com/", "medium": "paid", "source": "bing"}


def test_email_utm_medium_is_email_even_without_referrer() -> None:
    got = classify(None, PAGE, {"source": "spring-sale", "medium": "email"}, SITE)
    assert got == {"url": None, "medium": "email", "source": "spring-sale"}


def test_click_id_wins_over_email_tag() -> None:
    got = classify(None, "https://shop.example/?gclid=1", {"medium": "email"}, SITE)
    assert got == {"url": None, "medium": "paid", "source": "google"}


def test_social_utm_medium_is_social() -> None:
    got = classify(None, PAGE, {"source": "mastodon", "medium": "social"}, SITE)
    assert got == {"url": None, "medium": "social", "source": "mastodon"}


def test_campaign_without_referrer_is_not_direct() -> None:
    got = classify(None, PAGE, {"source": "podcast", "medium": "audio"}, SITE)
    assert got == {"url": None, "medium": "other", "source": "podcast"}


def test_unknown_utm_medium_with_referrer_falls_back_to_the_referrer() -> None:
    got = classify("https://www.google.com/", PAGE, {"source": "x", "medium": "referral"}, SITE)
    assert got == {"url": "https://www.google.com/", "medium": "search", "source": "google"}


def test_internal_hosts_ignore_port_case_and_www() -> None:
    hosts = internal_hosts("WWW.Shop.Example:443", ("www.Other.example",))
    assert hosts.hosts == frozenset({"shop.example", "other.example"})
    assert hosts.suffixes == (".other.example",)
