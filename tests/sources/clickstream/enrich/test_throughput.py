"""A run over many events with many distinct user agents: the caches give the parsers' answers.

Prints microseconds per event, cold and warm (`pytest -s` shows them); asserts nothing about time,
which depends on the machine and its load.
"""

from __future__ import annotations

import gc
import random
import re
import time

import pytest

from headwater.sources.clickstream.enrich import EnrichConfig, Enricher
from headwater.sources.clickstream.enrich.user_agent import parse_user_agent
from headwater.sources.clickstream.model import IncomingEvent, RequestContext
from tests.sources.clickstream.enrich.helpers import incoming
from tests.sources.clickstream.enrich.test_user_agent import CASES

EVENTS = 200_000
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


@pytest.mark.slow
def test_many_events_with_many_distinct_user_agents() -> None:
    rnd = random.Random(20240601)
    agents = distinct_user_agents(rnd)
    popularity = [1 / rank for rank in range(1, len(agents) + 1)]  # a few agents dominate
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
        for i, ua in enumerate(rnd.choices(agents, popularity, k=EVENTS))
    ]
    ctx = RequestContext(1_700_000_000_000, None, None, "collect.shop.example", ("shop.example",))
    parse_user_agent.cache_clear()
    enricher = Enricher(EnrichConfig(site_hosts=("shop.example",)))

    # The prebuilt events are this test's doing, not the collector's: keep the garbage
    # collector from walking them over and over while the records come and go.
    gc.collect()
    gc.freeze()
    timings = []
    try:
        for _ in range(2):  # cold caches, then warm
            enrich = enricher.enrich
            start = time.perf_counter()
            for event in events:
                enrich(event, ctx)
            timings.append((time.perf_counter() - start) / EVENTS * 1e6)
    finally:
        gc.unfreeze()
    print(
        f"\nenrich(): {timings[0]:.2f} us/event with cold caches "
        f"({DISTINCT_USER_AGENTS} user agents, {len(ips)} IPs first seen), "
        f"{timings[1]:.2f} us/event warm"
    )

    assert parse_user_agent.cache_info().misses == DISTINCT_USER_AGENTS
    sample = [events[i] for i in rnd.sample(range(EVENTS), 200)]
    cached = [enricher.enrich(event, ctx) for event in sample]
    parse_user_agent.cache_clear()
    fresh = Enricher(EnrichConfig(site_hosts=("shop.example",)))
    assert [fresh.enrich(event, ctx) for event in sample] == cached
