"""Landings: campaign + referrer per (referrer, page URL, scope), bounded, scopes apart."""

from __future__ import annotations

from headwater.sources.clickstream.enrich.campaign import campaign_of
from headwater.sources.clickstream.enrich.frozen import FrozenDict
from headwater.sources.clickstream.enrich.landing import MAX_REMEMBERED_CHARS, SCOPES, Landings
from headwater.sources.clickstream.enrich.referrer import classify, internal_hosts

SHOP = internal_hosts("collect.shop.example", ("shop.example",))
OTHER = internal_hosts("collect.other.example", ())
PAGE = "https://shop.example/p?utm_source=news&utm_medium=email"


def test_derived_records_are_the_classifiers_answers_frozen() -> None:
    landings = Landings()
    scope = landings.scope(SHOP)
    for referrer in (None, "https://shop.example/cart", "https://www.google.com/", "junk"):
        campaign, classified = landings.derive(referrer, PAGE, SHOP, scope)
        assert campaign == campaign_of({}, PAGE) == {"source": "news", "medium": "email"}
        assert classified == classify(referrer, PAGE, campaign_of({}, PAGE), SHOP)
        assert type(campaign) is FrozenDict and type(classified) is FrozenDict
        assert landings.records[(referrer, PAGE, scope)] == (campaign, classified)


def test_each_set_of_internal_hosts_has_its_own_scope() -> None:
    landings = Landings()
    shop, other = landings.scope(SHOP), landings.scope(OTHER)
    assert shop != other
    assert landings.scope(SHOP) == shop
    referrer = "https://blog.shop.example/post"
    assert landings.derive(referrer, PAGE, SHOP, shop)[1]["medium"] == "email"
    assert landings.derive(referrer, "https://shop.example/", SHOP, shop)[1]["medium"] == "internal"
    assert landings.derive(referrer, "https://shop.example/", OTHER, other)[1]["medium"] == "other"


def test_the_table_is_emptied_when_full() -> None:
    landings = Landings(size=3)
    scope = landings.scope(SHOP)
    for i in range(10):
        landings.derive(f"https://r{i}.example/", PAGE, SHOP, scope)
        assert 1 <= len(landings.records) <= 3


def test_scope_numbers_are_never_reused_after_the_scopes_are_forgotten() -> None:
    landings = Landings()
    first = landings.scope(SHOP)
    for i in range(SCOPES + 1):  # fills the scope table: it is emptied once
        landings.scope(internal_hosts(f"h{i}.example", ()))
    assert landings.scope(SHOP) > first


def test_huge_urls_are_answered_but_not_remembered() -> None:
    landings = Landings()
    scope = landings.scope(SHOP)
    huge = "https://shop.example/?utm_source=news&pad=" + "x" * MAX_REMEMBERED_CHARS
    campaign, classified = landings.derive("https://t.co/x", huge, SHOP, scope)
    assert campaign == {"source": "news"}
    assert classified == {"url": "https://t.co/x", "medium": "social", "source": "twitter"}
    assert not landings.records
