"""The Prometheus endpoint: traffic by API, log end offsets and consumer-group lag."""

from __future__ import annotations

import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition

from tests.kit.ports import free_port
from tests.kit.waiting import wait_for


def _scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_metrics_show_requests_log_end_offsets_and_group_lag(broker_factory):
    port = free_port()
    broker = broker_factory("--metrics-listen", f"127.0.0.1:{port}")
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    for i in range(10):
        producer.produce("metered", f"m{i}".encode())
    assert producer.flush(10) == 0
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "lagging"})
    consumer.commit(offsets=[TopicPartition("metered", 0, 4)], asynchronous=False)
    consumer.close()

    lag = 'headwater_broker_group_lag{group="lagging",partition="0",topic="metered"}'

    def with_lag() -> dict[str, float] | None:
        samples = _scrape(port)
        return samples if samples.get(lag) else None

    samples = wait_for(with_lag, 10, "the group's lag in the metrics")
    assert samples['headwater_broker_log_end_offset{partition="0",topic="metered"}'] == 10
    assert samples[lag] == 6
    assert samples['headwater_broker_requests_total{api="produce"}'] >= 1
    assert samples['headwater_broker_request_bytes_total{api="produce"}'] > 0
    assert samples['headwater_broker_records_appended_total{topic="metered"}'] == 10
