"""The collector's answers against a real broker that stalls (SIGSTOP) or refuses: a 503 is never
stored, a 202 is stored exactly once, a full producer queue never stalls the worker."""

from __future__ import annotations

import signal
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import orjson
from confluent_kafka import Consumer, KafkaError, TopicPartition

import headwater.transport as hwt
from tests.kit.consuming import consume_until, valid_messages
from tests.kit.waiting import wait_for, wait_until

from ...conftest import BrokerProcess
from .conftest import start_collector

AUTH = ("testkey", "")
EVENTS = "clickstream.events"
INVALID = "clickstream.invalid"


def batch(tag: str, n: int, size: int = 0) -> dict:
    return {
        "batch": [
            {
                "type": "track",
                "event": "e",
                "anonymousId": f"a-{tag}",
                "messageId": f"{tag}-{i}",
                "properties": {"pad": "x" * size} if size else {},
            }
            for i in range(n)
        ]
    }


def read_to_end(bootstrap: str, topic: str, until: set[str], deadline_s: float = 60.0) -> list:
    """Every record of `topic` up to its high watermark, once every id in `until` was seen."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"check-{uuid.uuid4()}",
         "auto.offset.reset": "earliest", "enable.auto.commit": False,
         "enable.partition.eof": True}
    )  # fmt: skip
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    at_end: set[int] = set()

    def poll(_: list) -> list:
        messages = consumer.consume(500, 0.2)
        for m in messages:  # in order: a partition's end, then a record after it, or the reverse
            if m.error() is None:
                at_end.discard(m.partition())
            elif m.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(m.partition())
        return valid_messages(messages, (KafkaError._PARTITION_EOF,))

    def seen(got: list) -> set[str]:
        return {orjson.loads(m.value()).get("event_id") for m in got}

    def done(got: list) -> bool:
        if not (until <= seen(got) and len(at_end) == len(partitions)):
            return False
        highs = {p: consumer.get_watermark_offsets(TopicPartition(topic, p))[1]
                 for p in partitions}  # fmt: skip
        positions = {tp.partition: tp.offset for tp in consumer.position(
            [TopicPartition(topic, p) for p in partitions])}  # fmt: skip
        return all(positions[p] >= highs[p] for p in partitions)

    try:
        return consume_until(
            poll,
            done,
            deadline_s,
            f"the end of {topic} with {len(until)} ids",
            lambda got: f"saw {len(seen(got) & until)} of {len(until)} ids",
        )
    finally:
        consumer.close()


@contextmanager
def stalled(broker: BrokerProcess) -> Iterator[None]:
    """The broker process stopped (SIGSTOP) for the block: connections stay open, nothing moves."""
    assert broker.proc is not None
    broker.proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        broker.proc.send_signal(signal.SIGCONT)


def post(url: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}/v1/batch", json=body, auth=AUTH, timeout=60)


def ids(tag: str, n: int) -> set[str]:
    return {f"{tag}-{i}" for i in range(n)}


def test_a_503_is_never_stored_and_its_retry_is_stored_once(broker: BrokerProcess, tmp_path):
    collector = start_collector(
        broker, tmp_path, "--ack-timeout-s", "1", "--queue-max-events", "60"
    )
    try:
        assert post(collector.url, batch("warm", 1)).status_code == 200
        with stalled(broker):
            first = post(collector.url, batch("first", 50))
            refused = post(collector.url, batch("refused", 50))
        assert first.status_code == 202, first.text  # held by the producer, not to be retried
        assert orjson.loads(first.content)["pending"] is True
        assert refused.status_code == 503, refused.text  # no room for all 50: none queued
        assert refused.headers["retry-after"]

        def retried() -> httpx.Response | None:
            answer = post(collector.url, batch("refused", 50))
            return None if answer.status_code == 503 else answer

        retry = wait_for(retried, 60, "the collector to take the retried batch")
        assert retry.status_code == 200, retry.text
        expected = ids("warm", 1) | ids("first", 50) | ids("refused", 50)
        landed = Counter(
            orjson.loads(m.value())["event_id"]
            for m in read_to_end(broker.bootstrap, EVENTS, expected)
        )
        assert set(landed) == expected
        assert set(landed.values()) == {1}, [i for i, n in landed.items() if n > 1]
    finally:
        collector.stop()


def test_a_full_queue_never_stalls_the_worker(broker: BrokerProcess, tmp_path) -> None:
    collector = start_collector(
        broker, tmp_path, "--ack-timeout-s", "30", "--queue-max-events", "20"
    )

    def stats() -> dict:
        return orjson.loads(httpx.get(f"{collector.url}/healthz", timeout=10).content)

    try:
        assert post(collector.url, batch("warm", 1)).status_code == 200
        with ThreadPoolExecutor(1) as pool:
            with stalled(broker):
                # Fills the queue, then waits for an acknowledgement that cannot come yet.
                held = pool.submit(post, collector.url, batch("held", 20))
                wait_until(lambda: stats()["waiting"] == 1, 30, "the held request to wait")
                # ... meanwhile the same worker answers everything else at once.
                for _ in range(3):
                    full = post(collector.url, batch("x", 5))
                    assert full.status_code == 503, full.text
                    assert "queue full" in full.text
                    assert stats()["waiting"] == 1
            assert held.result(60).status_code == 200
        assert stats()["unavailable"] == 3
    finally:
        collector.stop()


def test_answer_on_enqueue_answers_200_before_the_broker_acknowledged(
    broker: BrokerProcess, tmp_path
) -> None:
    collector = start_collector(broker, tmp_path, "--answer-on-enqueue")
    try:
        assert post(collector.url, batch("warm", 1)).status_code == 200
        with stalled(broker):
            queued = post(collector.url, batch("queued", 10))
            assert queued.status_code == 200, queued.text  # while the broker is stopped
        landed = Counter(
            orjson.loads(m.value())["event_id"]
            for m in read_to_end(broker.bootstrap, EVENTS, ids("queued", 10))
        )
        assert all(landed[i] == 1 for i in ids("queued", 10))
    finally:
        collector.stop()


def test_an_event_the_broker_refuses_for_good_is_dead_lettered_not_retried(
    broker: BrokerProcess, tmp_path
) -> None:
    with hwt.connect(broker.bootstrap) as conn:
        conn.admin().create_topics([hwt.TopicSpec(EVENTS, 1, {"max.message.bytes": "4000"})])
    collector = start_collector(broker, tmp_path)
    try:
        big = post(collector.url, batch("big", 1, size=20_000))
        assert big.status_code == 413, big.text  # not 503: a retry cannot help
        assert "MSG_SIZE_TOO_LARGE" in big.text
        small = post(collector.url, batch("small", 1))
        assert small.status_code == 200, small.text
        letters = read_to_end(broker.bootstrap, INVALID, ids("big", 1))
        (letter,) = [m for m in letters if orjson.loads(m.value())["event_id"] == "big-0"]
        headers = dict(letter.headers())
        assert b"MSG_SIZE_TOO_LARGE" in headers["reason"]
        assert headers["topic"] == EVENTS.encode()
    finally:
        collector.stop()
