"""What enrichment costs per event against the one-event-at-a-time reference, in this process.

Printed (`pytest -s`); the only assertion is a ratio, far under the one measured, as the machine
is shared. Pinned to one core for steadier figures:
    taskset -c 0 .venv/bin/pytest tests/sources/clickstream/enrich/test_cost.py -s
"""

from __future__ import annotations

import time
from collections.abc import Callable

from headwater.sources.clickstream.enrich import Enricher
from headwater.sources.clickstream.model import ClickEvent, IncomingEvent, RequestContext
from tests.sources.clickstream.enrich.reference import ReferenceEnricher
from tests.sources.clickstream.enrich.test_enricher_reference import RECEIVED, bench_body, parsed

ROUNDS = 7
EVENTS_PER_ROUND = 5_000

Enrich = Callable[[list[IncomingEvent], RequestContext], list[ClickEvent]]


def cost_us(enrich: Enrich, events: list[IncomingEvent], ctx: RequestContext) -> float:
    """Microseconds per event, one round."""
    calls = max(1, EVENTS_PER_ROUND // len(events))
    start = time.perf_counter()
    for _ in range(calls):
        enrich(events, ctx)
    return (time.perf_counter() - start) / (calls * len(events)) * 1e6


def test_enrich_batch_costs_a_fraction_of_the_reference() -> None:
    ctx = RequestContext(RECEIVED, "81.2.69.160", "x", "collector.example")
    ways: dict[str, Enrich] = {
        "enrich_batch": Enricher().enrich_batch,
        "reference": ReferenceEnricher().enrich_batch,
    }
    ratios = {}
    for size in (50, 1):
        events = parsed(bench_body(0, size))
        best = {}
        for name, enrich in ways.items():
            enrich(events, ctx)  # caches warm
            best[name] = float("inf")
        for _ in range(ROUNDS):  # interleaved: a busy moment hits both
            for name, enrich in ways.items():
                best[name] = min(best[name], cost_us(enrich, events, ctx))
        ratios[size] = best["reference"] / best["enrich_batch"]
        print(
            f"\nbatches of {size}: enrich_batch {best['enrich_batch']:.2f} us/event, "
            f"reference {best['reference']:.2f} us/event, x{ratios[size]:.1f}"
        )
    assert ratios[50] > 2
