"""`Enricher.enrich_batch` gives exactly what the one-event-at-a-time reference gives.

Equal as dicts, in key order, and byte for byte once serialised, over many varied batches run
through the same enrichers one after the other: the caches and the state kept from one event
to the next (user agent, IP, sentAt, the last request's host) must never show in the output.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.sources.clickstream.enrich import EnrichConfig, Enricher
from headwater.sources.clickstream.enrich.frozen import FrozenDict
from headwater.sources.clickstream.model import ClickEvent, IncomingEvent, RequestContext
from headwater.sources.clickstream.parse import parse_body
from tests.sources.clickstream.enrich.helpers import incoming
from tests.sources.clickstream.enrich.reference import ReferenceEnricher
from tests.sources.clickstream.enrich.test_user_agent import CASES

RECEIVED = 1_700_000_010_000
SHARED = ("user_agent", "geo", "referrer", "campaign")
CONFIGS = [
    EnrichConfig(),
    EnrichConfig(site_hosts=("shop.example",)),
    EnrichConfig(ip_policy="hash", ip_hash_secret="k" * 32, site_hosts=("blog.example",)),
    EnrichConfig(ip_policy="none", geo=False),
]
# One pair per configuration for the whole run: caches filled by one example serve the next.
PAIRS = [(Enricher(config), ReferenceEnricher(config)) for config in CONFIGS]


def assert_same(got: list[ClickEvent], want: list[ClickEvent]) -> None:
    assert got == want
    assert [list(r) for r in got] == [list(r) for r in want]
    for record, expected in zip(got, want, strict=True):
        for name in SHARED:
            assert list(record[name]) == list(expected[name])  # type: ignore[literal-required]
            assert type(record[name]) is FrozenDict  # type: ignore[literal-required]
    assert orjson.dumps(got) == orjson.dumps(want)


maybe_text = st.one_of(st.none(), st.just(""), st.text(max_size=40))
user_agents = st.one_of(maybe_text, st.sampled_from([ua for ua, *_ in CASES]))
ips = st.one_of(
    maybe_text,
    st.sampled_from(["81.2.69.142", "8.8.8.8", "10.0.0.1", "2001:4860::1", "[::1]:80", "1.2.3"]),
    st.ip_addresses().map(str),
)
URLS = [
    "https://shop.example/p/1",
    "https://www.shop.example/spring?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
    "https://shop.example/?gclid=abc",
    "https://shop.example/?utm_medium=cpc&utm_source=google#top",
    "https://shop.example/?utm_source=a+b&utm_term=x%20y&utm_id=7&utm_source=dup",
    "https://watch.example/v/1?utm_source=news",
    "https://blog.shop.example/post",
    "https://blog.example/post",
    "https://collect.shop.example/",
    "https://www.google.com/",
    "https://www.google.co.uk/search?q=x",
    "https://t.co/x",
    "https://mail.google.com/mail/u/0/",
    "https://someblog.net/post",
    "android-app://com.google.android.gm/",
    "http://[2001:db8::1]:8080/x",
    "not a url",
]
urls = st.one_of(
    maybe_text,
    st.sampled_from(URLS),
    st.from_regex(r"[a-z]{1,5}://[\w.:@\[\]%-]{0,20}([/?#][\w=&%+#?/.-]{0,30})?", fullmatch=True),
)
channels = st.sampled_from(["absent", None, "web", "mobile", "desktop", "voice"])
contexts = st.dictionaries(
    st.sampled_from(["device", "library", "voice", "page", "locale"]),
    st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from(["ios", "android", "macos", "Alexa", "tablet", ""]),
        st.dictionaries(
            st.sampled_from(["type", "name"]),
            st.sampled_from(["ios", "Windows", "alexa-skills-kit", "analytics.js", "speaker"]),
        ),
    ),
    max_size=3,
)
campaigns: st.SearchStrategy[dict[str, str]] = st.one_of(
    st.just({}),
    st.dictionaries(
        st.sampled_from(["source", "medium", "name", "utm_term", "campaign", "id"]),
        st.sampled_from(["", "google", "cpc", "email", "Social", "spring"]),
        max_size=3,
    ),
)
times = st.one_of(st.none(), st.integers(1_600_000_000_000, 1_800_000_000_000))


@st.composite
def events(draw: st.DrawFn, sent_ts: int | None) -> IncomingEvent:
    """One event; its sentAt is mostly the batch's (the same int object, as parsers give it)."""
    channel = draw(channels)
    event = incoming(
        event_id=draw(st.text(max_size=8)),
        event=draw(st.sampled_from(["page", "screen", "identify", "track:play"])),
        channel=channel,
        client_ts=draw(times),
        sent_ts=draw(st.one_of(st.just(sent_ts), times)),
        user_id=draw(maybe_text),
        session_id=draw(maybe_text),
        user_agent=draw(user_agents),
        ip=draw(ips),
        referrer=draw(urls),
        campaign=draw(campaigns),
        context=draw(contexts),
        traits=draw(
            st.dictionaries(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1), max_size=2)
        ),
        request={**incoming()["request"], "url": draw(urls)},
    )
    if channel == "absent":
        del event["channel"]
    return event


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[IncomingEvent], RequestContext]:
    sent_ts = draw(times)
    batch = draw(st.lists(events(sent_ts), min_size=1, max_size=8))
    ctx = RequestContext(
        received_ts=draw(st.integers(1_600_000_000_000, 1_800_000_000_000)),
        client_ip=draw(ips),
        user_agent=draw(user_agents),
        host=draw(
            st.sampled_from([None, "", "collect.shop.example", "shop.example:8443", "a.example"])
        ),
        site_hosts=draw(st.sampled_from([(), ("shop.example",), ("a.example", "shop.example")])),
    )
    return batch, ctx


@settings(max_examples=600, deadline=None)
@given(batch=batches(), which=st.integers(0, len(PAIRS) - 1))
def test_any_batch_enriches_exactly_as_the_reference(
    batch: tuple[list[IncomingEvent], RequestContext], which: int
) -> None:
    events, ctx = batch
    enricher, reference = PAIRS[which]
    assert_same(enricher.enrich_batch(events, ctx), reference.enrich_batch(events, ctx))
    assert_same([enricher.enrich(e, ctx) for e in events], reference.enrich_batch(events, ctx))


def bench_body(first: int, count: int) -> bytes:
    """bench/collector.py's Segment batch: 300 page URLs, 5000 sessions, one UA and referrer."""
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
    calls = [
        {
            "type": "track",
            "event": "video_play",
            "anonymousId": f"anon-{i % 5000}",
            "messageId": f"m-{i}",
            "timestamp": "2023-11-14T22:13:00.000Z",
            "properties": {"video_id": f"v{i % 300}", "position_s": i % 600},
            "context": {
                "page": {
                    "url": f"https://watch.example/v/{i % 300}?utm_source=news",
                    "referrer": "https://www.google.com/",
                },
                "userAgent": ua,
                "sessionId": f"s-{i % 5000}",
            },
        }
        for i in range(first, first + count)
    ]
    return orjson.dumps({"batch": calls, "sentAt": "2023-11-14T22:13:01.000Z"})


def parsed(body: bytes) -> list[IncomingEvent]:
    result = parse_body(
        body, endpoint="batch", content_type="application/json", received_ts=RECEIVED
    )
    assert result.events
    return result.events


def test_benchmark_batches_from_the_parser_match_the_reference() -> None:
    ctx = RequestContext(RECEIVED, "81.2.69.160", "x", "collector.example")
    enricher, reference = Enricher(), ReferenceEnricher()
    for first in range(0, 700, 50):  # the 300 pages come round again: cache hits
        events = parsed(bench_body(first, 50))
        assert_same(enricher.enrich_batch(events, ctx), reference.enrich_batch(events, ctx))
    for first in range(3):
        events = parsed(bench_body(first, 1))
        assert_same(enricher.enrich_batch(events, ctx), reference.enrich_batch(events, ctx))


def test_alternating_collector_hosts_keep_their_own_internal_referrers() -> None:
    page = incoming(referrer="https://a.example/from", request={**incoming()["request"]})
    page["request"]["url"] = "https://shop.example/p"
    enricher = Enricher()
    for _ in range(3):
        for host, medium in (("a.example", "internal"), ("b.example", "other")):
            ctx = RequestContext(RECEIVED, None, None, host)
            assert enricher.enrich_batch([page], ctx)[0]["referrer"]["medium"] == medium


def test_user_agent_ip_and_sent_at_changing_inside_a_batch() -> None:
    sent: list[int | None] = [1_700_000_005_000, 1_700_000_005_000, None, 1_700_000_006_000]
    agents = [None, "curl/8.5.0", "curl/8.5.0", None]
    addresses = ["8.8.8.8", None, "8.8.8.8", "2001:4860::1"]
    events = [
        incoming(event_id=str(i), sent_ts=s, user_agent=a, ip=ip)
        for i, (s, a, ip) in enumerate(zip(sent, agents, addresses, strict=True))
    ]
    ctx = RequestContext(RECEIVED, "81.2.69.142", "okhttp/4.12.0", "collect.shop.example")
    got = Enricher().enrich_batch(iter(events), ctx)  # any iterable, read once
    assert_same(got, ReferenceEnricher().enrich_batch(events, ctx))
    assert [r["is_bot"] for r in got] == [False, True, True, False]
    assert [r["geo"]["country"] for r in got] == ["US", "GB", "US", "US"]


def test_records_carry_the_same_values_as_dicts_of_their_own(
    monkeypatch: Any,
) -> None:
    """Sharing is invisible to a reader: each record still equals a fresh reference record."""
    events = [incoming(event_id=str(i)) for i in range(3)]
    ctx = RequestContext(RECEIVED, "81.2.69.142", "okhttp/4.12.0", "collect.shop.example")
    got = Enricher().enrich_batch(events, ctx)
    assert got[0]["user_agent"] is got[1]["user_agent"]  # shared, read-only
    assert got[0] is not got[1]
    assert_same(got, ReferenceEnricher().enrich_batch(events, ctx))


def test_every_context_key_the_channel_rules_read_is_looked_at() -> None:
    contexts: list[dict[str, Any]] = [
        {},
        {"page": {"url": "x"}},
        {"voice": True},
        {"voice": 0},
        {"library": {"name": "alexa-skills-kit"}},
        {"library": {"name": "analytics.js"}},
        {"library": "alexa"},
        {"device": {"type": "ios"}},
        {"device": {"type": "Echo speaker"}},
        {"device": {"type": "tablet"}},
    ]
    agents = [None, "curl/8.5.0", *(ua for ua, *_ in CASES)]
    events = [
        incoming(event_id=f"{i}-{j}", context=context, user_agent=ua)
        for i, context in enumerate(contexts)
        for j, ua in enumerate(agents)
    ]
    ctx = RequestContext(RECEIVED, None, None, None)
    got = Enricher().enrich_batch(events, ctx)
    assert_same(got, ReferenceEnricher().enrich_batch(events, ctx))
    assert {r["channel"] for r in got} == {"web", "mobile", "desktop", "voice"}
