"""A run over many events with many distinct user agents: the caches give the parsers' answers.

Each distinct user agent is parsed once, and an event enriched from warm caches equals the same
event enriched by a fresh enricher with empty caches. What the caches save is measured by
bench/enrich_cost.py, not here.
"""

from __future__ import annotations

import random
import re

from headwater.sources.clickstream.enrich import EnrichConfig, Enricher
from headwater.sources.clickstream.enrich.user_agent import parse_user_agent
from headwater.sources.clickstream.model import IncomingEvent, RequestContext
from tests.sources.clickstream.enrich.helpers import incoming
from tests.sources.clickstream.enrich.test_user_agent import CASES

EVENTS = 20_000
DISTINCT_USER_AGENTS = 1_000
REFERRERS = [
    None,
    None,
    "https://www.google.com/",
    "https://t.co/x",
    "https://mail.google.com/",
    "https://shop.example/cart",
    "https://someblog.net/post",
]
PAGES = [f"https://shop.example/p/{i}" for i in range(50)] + [
    "https://shop.example/?gclid=abc",
    "https://shop.example/?utm_source=n&utm_medium=email",
]


def distinct_user_agents(rnd: random.Random) -> list[str]:
    """Real strings with their version numbers shifted: each new to every cache."""
    out: set[str] = set()
    templates = [ua for ua, *_ in CASES]
    while len(out) < DISTINCT_USER_AGENTS:
        template = rnd.choice(templates)
        out.add(re.sub(r"\d+", lambda m: str(int(m.group()) + rnd.randint(0, 40)), template))
    return sorted(out)


def many_events(count: int, seed: int = 20240601) -> tuple[list[IncomingEvent], RequestContext]:
    """`count` events over DISTINCT_USER_AGENTS agents (each at least once, a few dominating),
    20,000 IPs, some referrers and pages; the request context they arrive in."""
    rnd = random.Random(seed)
    agents = distinct_user_agents(rnd)
    popularity = [1 / rank for rank in range(1, len(agents) + 1)]  # a few agents dominate
    chosen = agents + rnd.choices(agents, popularity, k=count - len(agents))
    rnd.shuffle(chosen)
    ips = [
        f"{rnd.randint(1, 223)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.7"
        for _ in range(20_000)
    ]
    page = incoming()["request"]
    events: list[IncomingEvent] = [
        incoming(
            event_id=str(i),
            user_agent=ua,
            ip=rnd.choice(ips),
            referrer=rnd.choice(REFERRERS),
            request={**page, "url": rnd.choice(PAGES)},
        )
        for i, ua in enumerate(chosen)
    ]
    ctx = RequestContext(1_700_000_000_000, None, None, "collect.shop.example", ("shop.example",))
    return events, ctx


def test_each_distinct_user_agent_is_parsed_once_and_cached_answers_equal_fresh_ones() -> None:
    events, ctx = many_events(EVENTS)
    parse_user_agent.cache_clear()
    enricher = Enricher(EnrichConfig(site_hosts=("shop.example",)))
    for event in events:
        enricher.enrich(event, ctx)
    assert parse_user_agent.cache_info().misses == DISTINCT_USER_AGENTS

    sample = random.Random(7).sample(events, 200)
    cached = [enricher.enrich(event, ctx) for event in sample]
    parse_user_agent.cache_clear()
    fresh = Enricher(EnrichConfig(site_hosts=("shop.example",)))
    assert [fresh.enrich(event, ctx) for event in sample] == cached
