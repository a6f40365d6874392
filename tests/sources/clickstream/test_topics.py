"""`headwater collect` creates the topics it writes (events, dead letters) at start-up, durably,
instead of leaving them to the broker's auto-creation on the first event."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import headwater.transport as hwt
from headwater.contracts.topics import CLICKSTREAM_EVENTS, CLICKSTREAM_INVALID
from tests.kit.kafka import KafkaCluster
from tests.kit.ports import free_port
from tests.kit.processes import headwater_process, run_headwater
from tests.kit.services import BrokerProcess

from ..durable_topics import assert_created_durably, delete_topics
from .conftest import start_collector

AUTH = ("testkey", "")


def one_event() -> dict[str, object]:
    return {"type": "track", "event": "e", "anonymousId": "a", "messageId": uuid.uuid4().hex}


def test_events_are_stored_on_a_broker_that_never_auto_creates_topics(
    broker_factory: Callable[..., BrokerProcess], tmp_path: Path
) -> None:
    broker = broker_factory("--no-auto-create-topics")
    collector = start_collector(broker, tmp_path)
    try:
        answer = httpx.post(f"{collector.url}/v1/track", json=one_event(), auth=AUTH, timeout=60)
    finally:
        collector.stop()
    assert answer.status_code == 200, answer.text
    with hwt.connect(broker.bootstrap) as conn:
        topics = conn.admin().list_topics()
    assert {CLICKSTREAM_EVENTS, CLICKSTREAM_INVALID} <= topics.keys()


def test_a_topic_that_cannot_be_created_stops_the_start_with_the_reason(
    broker: BrokerProcess,
) -> None:
    with hwt.connect(broker.bootstrap) as conn:  # Kafka refuses names that differ by '.' / '_'
        conn.admin().create_topics([hwt.TopicSpec("clickstream_invalid")])
    result = run_headwater(
        "collect", "--listen", f"127.0.0.1:{free_port()}", "--broker", broker.bootstrap,
        timeout_s=60,
    )  # fmt: skip
    assert result.returncode == 69, result.stderr
    assert f"cannot create topics {CLICKSTREAM_EVENTS}, {CLICKSTREAM_INVALID}" in result.stderr
    assert "collides" in result.stderr and "fix:" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "collector_started" not in result.stderr


@pytest.mark.kafka
def test_the_collector_creates_its_topics_durably_on_the_cluster(
    kafka_cluster: KafkaCluster, tmp_path: Path
) -> None:
    delete_topics(kafka_cluster, CLICKSTREAM_EVENTS, CLICKSTREAM_INVALID)
    port = free_port()
    collector = headwater_process(
        tmp_path, "collect", "--listen", f"127.0.0.1:{port}", "--broker", kafka_cluster.url,
        "--write-key", "testkey=web-test", name="collector",
    )  # fmt: skip
    collector.start(ready_port=("127.0.0.1", port), ready_line="collector_started")
    try:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/track", json=one_event(), auth=AUTH, timeout=60
        )
    finally:
        collector.stop()
    assert answer.status_code == 200, answer.text
    for topic in (CLICKSTREAM_EVENTS, CLICKSTREAM_INVALID):
        assert_created_durably(kafka_cluster, topic)
