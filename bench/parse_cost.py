"""What parsing costs per event on the collector's usual bodies, and the fast path's gain.

For each body (tests/sources/clickstream/parse/bodies.py: bench/collector.py's batch, t.js's,
Segment's, single calls): parse_body (the fast path, fast.py), the precise path alone (the fast
path switched off: what every body cost before it) and the typed decode alone (msgspec, the C
part of the fast path), as the best of 30 short rounds. Prints µs per event and the ratio
precise / fast, measured in this run. The tests check only that both paths read these bodies
alike. Pinned to one core for steadier figures:

    taskset -c 0 .venv/bin/python bench/parse_cost.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest.mock import patch

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.sources.clickstream.parse.bodies import usual_bodies
from tests.sources.clickstream.parse.helpers import RECEIVED

from headwater.sources.clickstream.parse import body as body_module
from headwater.sources.clickstream.parse import parse_body
from headwater.sources.clickstream.parse.wire import BODY

ROUNDS = 30


def best_us(fn: Callable[[], object], events: int) -> float:
    """The best of many short rounds, per event: the least disturbed by other processes."""
    fn()
    reps = max(1, 200 // events)
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - start) / reps)
    return best * 1e6 / events


def main() -> None:
    table = Table(title="parse cost per event (µs, best of 30 rounds)")
    for column in ("body", "bytes", "parse_body", "precise path", "precise / fast", "decode"):
        table.add_column(column, justify="left" if column == "body" else "right")
    for name, data, endpoint, events in usual_bodies():

        def run(
            data: bytes = data, endpoint: str = endpoint, events: int = events, name: str = name
        ) -> None:
            result = parse_body(
                data, endpoint=endpoint, content_type="application/json", received_ts=RECEIVED
            )
            if len(result.events) != events:
                raise SystemExit(f"{name}: {len(result.events)} events, not {events}")

        fast = best_us(run, events)
        with patch.object(body_module, "read_valid", lambda *args, **kwargs: None):
            precise = best_us(run, events)
        decode = best_us(lambda data=data: BODY.decode(data), events)
        table.add_row(name, f"{len(data):,}", f"{fast:.2f}", f"{precise:.2f}",
                      f"x{precise / fast:.1f}", f"{decode:.2f}")  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
