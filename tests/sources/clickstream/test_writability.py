"""The collector refuses new requests (503, nothing queued) while a partition of its topics cannot
take `acks=all` writes: the verdict from partition states, and the whole path on the embedded
broker, which refuses acks=all writes to a topic whose min.insync.replicas is above its one
replica as Kafka does. The way back (a broker returns) is tests/test_broker_loss.py's."""

from __future__ import annotations

import httpx
import orjson

import headwater.transport as hwt
from headwater.sources.clickstream.writability import unwritable_reason
from tests.kit.waiting import wait_for

from ...conftest import BrokerProcess
from .conftest import start_collector
from .test_delivery import AUTH, EVENTS, batch

P = hwt.PartitionReplicas


def test_a_partition_with_a_leader_and_enough_in_sync_replicas_is_writable() -> None:
    partitions = {EVENTS: (P(0, 1, (1, 2, 3), (1, 2)), P(1, 2, (1, 2, 3), (1, 2, 3)))}
    assert unwritable_reason(partitions, {EVENTS: 2}) is None


def test_fewer_in_sync_replicas_than_the_topic_asks_is_unwritable() -> None:
    partitions = {EVENTS: (P(0, 1, (1, 2, 3), (1, 2)), P(1, 3, (1, 2, 3), (3,)))}
    assert unwritable_reason(partitions, {EVENTS: 2}) == (
        f"{EVENTS}[1] has 1 in-sync replica(s) (3 of 1,2,3), under its min.insync.replicas=2: "
        "the cluster refuses acks=all writes"
    )


def test_a_partition_without_a_leader_is_unwritable_whatever_the_min_isr() -> None:
    partitions = {EVENTS: (P(0, None, (1, 2, 3), ()),)}
    reason = unwritable_reason(partitions, {})
    assert reason == f"{EVENTS}[0] has no leader (replicas 1,2,3 out of service)"


def test_new_requests_get_503_once_the_collector_finds_its_topic_unwritable(
    broker: BrokerProcess, tmp_path
) -> None:
    with hwt.connect(broker.bootstrap) as conn, conn.admin() as admin:
        admin.create_topics([hwt.TopicSpec(EVENTS, 2, {"min.insync.replicas": "2"})])
    collector = start_collector(broker, tmp_path, "--ack-timeout-s", "1")
    url = collector.url

    def post(tag: str) -> httpx.Response:
        return httpx.post(f"{url}/v1/batch", json=batch(tag, 5), auth=AUTH, timeout=30)

    def unwritable() -> int:
        return int(orjson.loads(httpx.get(f"{url}/healthz", timeout=10).content)["unwritable"])

    try:
        assert unwritable() == 0  # nothing asked of the cluster before a sign of trouble
        first = post("first")  # queued; the broker refuses it (retriable), the wait runs out
        assert first.status_code == 202, first.text

        def refused_at_once() -> httpx.Response | None:
            answer = post("later")
            assert answer.status_code in (202, 503), answer.text  # queued, or nothing queued
            return answer if answer.status_code == 503 else None

        refused = wait_for(refused_at_once, 30, "a request refused at once")
        assert refused.headers["retry-after"]
        assert "min.insync.replicas=2" in refused.text, refused.text
        assert unwritable() == 1
        for i in range(3):  # while it holds, every new request is refused
            again = post(f"again-{i}")
            assert again.status_code == 503, again.text
    finally:
        collector.stop()
    changes = [line for line in collector.log_text().splitlines() if '"event":"events_' in line]
    assert len(changes) == 1, changes  # one line per change of state
    assert orjson.loads(changes[0])["event"] == "events_unwritable"
    assert "min.insync.replicas=2" in orjson.loads(changes[0])["reason"]
