"""What enrichment costs per event: the batch enricher against the one-event-at-a-time
reference, and `enrich()` over many distinct user agents with cold and with warm caches.

1. `Enricher.enrich_batch` and `ReferenceEnricher.enrich_batch` (tests/sources/clickstream/enrich/
   reference.py) on bench/collector.py's body, batches of 50 and of 1; the best of 7 interleaved
   rounds (a busy moment hits both); prints µs per event and the ratio reference / batch.
2. `Enricher.enrich` over 200,000 events with 1,000 distinct user agents (a few dominate) and
   20,000 IPs: the first pass fills the caches, the second finds them warm; prints µs per event.

The tests check only that the outputs are equal (test_enricher_reference.py, test_caches.py).
Pinned to one core for steadier figures:

    taskset -c 0 .venv/bin/python bench/enrich_cost.py
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.sources.clickstream.enrich.reference import ReferenceEnricher
from tests.sources.clickstream.enrich.test_caches import DISTINCT_USER_AGENTS, many_events
from tests.sources.clickstream.enrich.test_enricher_reference import RECEIVED, bench_body, parsed

from headwater.sources.clickstream.enrich import EnrichConfig, Enricher
from headwater.sources.clickstream.enrich.user_agent import parse_user_agent
from headwater.sources.clickstream.model import ClickEvent, IncomingEvent, RequestContext

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


def batch_against_reference() -> Table:
    ctx = RequestContext(RECEIVED, "81.2.69.160", "x", "collector.example")
    ways: dict[str, Enrich] = {
        "enrich_batch": Enricher().enrich_batch,
        "reference": ReferenceEnricher().enrich_batch,
    }
    table = Table(title=f"enrich_batch against the reference (µs/event, best of {ROUNDS})")
    for column in ("batch size", "enrich_batch", "reference", "reference / enrich_batch"):
        table.add_column(column, justify="right")
    for size in (50, 1):
        events = parsed(bench_body(0, size))
        best = {}
        for name, enrich in ways.items():
            enrich(events, ctx)  # caches warm
            best[name] = float("inf")
        for _ in range(ROUNDS):  # interleaved: a busy moment hits both
            for name, enrich in ways.items():
                best[name] = min(best[name], cost_us(enrich, events, ctx))
        ratio = best["reference"] / best["enrich_batch"]
        table.add_row(str(size), f"{best['enrich_batch']:.2f}", f"{best['reference']:.2f}",
                      f"x{ratio:.1f}")  # fmt: skip
    return table


def cold_and_warm(count: int) -> Table:
    events, ctx = many_events(count)
    parse_user_agent.cache_clear()
    enricher = Enricher(EnrichConfig(site_hosts=("shop.example",)))
    # The prebuilt events are the benchmark's doing, not the collector's: keep the garbage
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
            timings.append((time.perf_counter() - start) / count * 1e6)
    finally:
        gc.unfreeze()
    table = Table(title=f"enrich() over {count:,} events, {DISTINCT_USER_AGENTS:,} user agents")
    for column in ("caches", "µs/event"):
        table.add_column(column, justify="right")
    table.add_row("cold (first pass)", f"{timings[0]:.2f}")
    table.add_row("warm (second pass)", f"{timings[1]:.2f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    console = Console()
    console.print(batch_against_reference())
    console.print(cold_and_warm(args.events))


if __name__ == "__main__":
    main()
