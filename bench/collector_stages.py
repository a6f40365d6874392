"""Where a collector's CPU goes per event: each stage timed in one process, on the benchmark body.

Stages of `POST /v1/batch` with 50 Segment events (bench/collector.py's body, fresh ids): JSON
decode alone (orjson, the floor of any parser), parse (headwater's parser: decode + checks +
event dicts), enrich, serialise (orjson.dumps per event), and produce through
`headwater.transport` to a real embedded broker with one acknowledgement per request
(`produce_group`), counting the CPU of every thread of this process (librdkafka's included).

    .venv/bin/python bench/collector_stages.py [--requests 400]
"""

from __future__ import annotations

import argparse
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _net import wait_port
from collector import ID_MARK, event
from headwater import transport
from headwater.sources.clickstream.enrich.enricher import Enricher
from headwater.sources.clickstream.model import RequestContext
from headwater.sources.clickstream.parse import parse_body

EVENTS = 50


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def per_event_us(run, requests: int) -> float:
    """CPU µs per event of `run(k)` over `requests` calls (every thread of the process)."""
    run(0)
    start = cpu_s()
    for k in range(requests):
        run(k)
    return (cpu_s() - start) / requests / EVENTS * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    n = args.requests
    template = orjson.dumps(
        {"batch": [event(i) for i in range(EVENTS)], "sentAt": "2026-11-25T10:00:01.000Z"}
    )
    bodies = [template.replace(ID_MARK.encode(), b"%d" % k) for k in range(n + 1)]
    now_ms = time.time_ns() // 1_000_000
    ctx = RequestContext(now_ms, "81.2.69.160", None, "collector.example", ())
    enricher = Enricher()
    parsed = [
        parse_body(b, endpoint="batch", content_type="application/json", received_ts=now_ms).events
        for b in bodies
    ]
    enriched = [enricher.enrich_batch(events, ctx) for events in parsed]
    values = [[orjson.dumps(e) for e in batch] for batch in enriched]
    rows = {
        "JSON decode alone (orjson.loads)": per_event_us(lambda k: orjson.loads(bodies[k]), n),
        "parse (decode, checks, event dicts)": per_event_us(
            lambda k: parse_body(
                bodies[k], endpoint="batch", content_type="application/json", received_ts=now_ms
            ),
            n,
        ),
        "enrich": per_event_us(lambda k: enricher.enrich_batch(parsed[k], ctx), n),
        "serialise (orjson.dumps)": per_event_us(
            lambda k: [orjson.dumps(e) for e in enriched[k]], n
        ),
    }
    with tempfile.TemporaryDirectory(prefix="hw-stages-") as tmp, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        broker = subprocess.Popen(
            [sys.executable, "-m", "headwater", "broker", "--listen", f"127.0.0.1:{port}",
             "--data-dir", tmp, "--log-level", "warning"],
        )  # fmt: skip
        try:
            wait_port(port)
            conn = transport.connect(f"127.0.0.1:{port}")
            producer = conn.producer(transport.ProducerOptions(linger_ms=2.0))
            headers = [("source", b"web"), ("schema", b"clickstream.v1"), ("ingested_at", b"1")]
            done: list[object] = []

            def produce(k: int) -> None:
                records = [
                    ("clickstream.events", v, b"s-%d" % i, headers) for i, v in enumerate(values[k])
                ]
                producer.produce_group(records, done.append)
                producer.poll(0)

            start = cpu_s()
            produce(0)
            producer.flush(30)
            start = cpu_s()
            for k in range(1, n + 1):
                produce(k)
            producer.flush(30)
            rows["produce + acknowledgement (all threads)"] = (cpu_s() - start) / n / EVENTS * 1e6
            producer.close()
            conn.close()
        finally:
            broker.terminate()
            broker.wait(30)
    table = Table(title=f"Collector CPU per event, {EVENTS}-event Segment batches, {n} requests")
    table.add_column("stage")
    table.add_column("µs/event", justify="right")
    for name, value in rows.items():
        table.add_row(name, f"{value:.2f}")
    total = sum(v for k, v in rows.items() if not k.startswith("JSON decode"))
    table.add_row("total (without decode alone)", f"{total:.2f}")
    table.add_row("= events/s on one core, HTTP excluded", f"{1e6 / total:,.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
