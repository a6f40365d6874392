"""The sink's Prometheus endpoint: rows, rejects and commits per table, offsets and lag."""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

import headwater.transport as hwt
from headwater.sink.metrics import SinkMetrics
from headwater.sink.runner import Sink, SinkConfig

from ..conftest import BrokerProcess, free_port
from ..lake.events import click_value
from ..transport.support import FAST_GROUP, wait_until

TOPIC = "clickstream.events"


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def produce(bootstrap: str, values: list[bytes]) -> None:
    with hwt.connect(bootstrap) as t, t.producer() as producer:
        for value in values:
            producer.produce(TOPIC, value, partition=0)
        assert producer.flush(30) == 0


def test_metrics_count_rows_rejects_commits_and_show_the_lag(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    with hwt.connect(broker.bootstrap) as t:
        t.admin().create_topics([hwt.TopicSpec(TOPIC, 1)])
    produce(broker.bootstrap, [click_value(i) for i in range(50)] + [b"{not json"])
    port = free_port()
    metrics = SinkMetrics()
    server = metrics.serve("127.0.0.1", port)
    # 51 records make a batch; the 5 produced later wait in the buffer (max_age_s is long).
    config = SinkConfig(lake=tmp_path, group="metered", max_rows=51, max_age_s=600,
                        consumer=FAST_GROUP)  # fmt: skip
    with hwt.connect(broker.bootstrap) as transport:
        sink = Sink(transport, config, metrics)
        thread = threading.Thread(target=sink.run)
        thread.start()
        try:
            table = 'table="clickstream_events"'
            wait_until(lambda: scrape(port).get(f"headwater_sink_commits_total{{{table}}}") == 1,
                       60, "the first commit")  # fmt: skip
            produce(broker.bootstrap, [click_value(i) for i in range(50, 55)])
            buffered = f'headwater_sink_buffered_records{{topic="{TOPIC}"}}'
            wait_until(lambda: scrape(port).get(buffered) == 5, 30, "5 buffered records")
            lag = f'headwater_sink_lag{{partition="0",topic="{TOPIC}"}}'
            wait_until(lambda: scrape(port).get(lag) == 5, 30, "a lag of 5")  # refreshed every 1 s
            samples = scrape(port)
        finally:
            sink.stop()
            thread.join(60)
            server.shutdown()
            server.server_close()
    part = f'partition="0",topic="{TOPIC}"'
    assert samples[f"headwater_sink_rows_total{{{table}}}"] == 50
    assert samples[f"headwater_sink_rejected_total{{{table}}}"] == 1
    assert samples[f"headwater_sink_committed_offset{{{part}}}"] == 50
    assert samples[f"headwater_sink_flush_seconds_count{{{table}}}"] == 1
    assert sink.commits == 2  # stopping committed the buffered 5
