"""Durability end to end: kill -9 under load, corrupt segment tails, SIGTERM and restart.

Real broker processes (conftest `broker`), real librdkafka clients (tests/broker/clients.py).
"""

from __future__ import annotations

import collections
import json
import os
import random
import struct
import threading
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, Message, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.broker.clients import (
    consume_n,
    end_offset,
    make_consumer,
    make_producer,
    produce,
    read_partition,
    wait_until,
)

SEGMENT = "00000000000000000000.log"


def segment_path(data_dir: Path, topic: str, partition: int = 0) -> Path:
    return data_dir / "logs" / f"{topic}-{partition}" / SEGMENT


def batches_in(data: bytes) -> list[tuple[int, int, int]]:
    """(position, size, base offset) of each RecordBatch in a segment, from the raw headers."""
    out = []
    pos = 0
    while pos + 12 <= len(data):
        base_offset, length = struct.unpack_from(">qi", data, pos)
        out.append((pos, length + 12, base_offset))
        pos += length + 12
    assert pos == len(data), "the segment written by the broker does not parse back to back"
    return out


def json_log_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            lines.append(obj)
    return lines


class StreamingProducer(threading.Thread):
    """Produces numbered records until stopped, at most `window` unacknowledged at a time."""

    def __init__(self, bootstrap: str, topic: str, window: int = 2000) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.window = bootstrap, topic, window
        self.acked: dict[int, int] = {}  # record number -> offset the delivery report gave
        self.errors: list[str] = []
        self.sent = 0
        self.unflushed = -1
        self.stop_requested = threading.Event()

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        number = int(msg.value()[4:])
        if err is not None:
            self.errors.append(f"record {number}: {err}")
        else:
            self.acked[number] = msg.offset()

    def run(self) -> None:
        try:
            self._stream()
        except Exception as exc:  # a fatal producer error is raised from produce()/poll()
            self.errors.append(f"producer raised {type(exc).__name__}: {exc}")

    def _stream(self) -> None:
        producer = make_producer(
            self.bootstrap,
            **{
                "linger.ms": 2,
                "message.timeout.ms": 40000,
                "reconnect.backoff.ms": 20,
                "reconnect.backoff.max.ms": 200,
                "retry.backoff.ms": 20,
            },
        )
        while not self.stop_requested.is_set():
            if self.sent - len(self.acked) - len(self.errors) >= self.window:
                producer.poll(0.05)
                continue
            value = b"rec-%08d" % self.sent
            producer.produce(self.topic, value, key=value[4:], on_delivery=self._on_delivery)
            self.sent += 1
            producer.poll(0)
        self.unflushed = producer.flush(45)


@pytest.mark.parametrize("flush", ["interval", "always"])
def test_kill_9_under_load_keeps_every_acknowledged_record_exactly_once(broker_factory, flush):
    """Three kill -9 / restart cycles on the same port and data dir while a producer streams.

    With --flush always the broker spends most of its time between writing a batch and
    acknowledging it, so kills land there and the producer resends batches already stored.
    """
    broker = broker_factory("--flush", flush)
    topic = "durable-stream"
    streamer = StreamingProducer(broker.bootstrap, topic)
    streamer.start()
    acked_at_kill: dict[int, int] = {}
    in_flight_at_kill: list[int] = []
    try:
        for cycle in range(3):
            target = len(streamer.acked) + 2000
            wait_until(
                lambda target=target: len(streamer.acked) >= target or streamer.errors,
                30,
                f"2000 more acknowledged records before kill {cycle + 1}",
            )
            broker.kill()
            acked_at_kill.update(streamer.acked)
            in_flight_at_kill.append(streamer.sent - len(streamer.acked))
            broker.start()
        target = len(streamer.acked) + 2000
        wait_until(
            lambda: len(streamer.acked) >= target or streamer.errors,
            30,
            "2000 more acknowledged records after the last restart",
        )
    finally:
        streamer.stop_requested.set()
        streamer.join(60)
    assert not streamer.is_alive()
    assert streamer.errors == [], (
        f"{len(streamer.errors)} delivery errors, first: {streamer.errors[:5]}"
    )
    assert streamer.unflushed == 0
    assert all(in_flight_at_kill), f"kills should land mid-stream: {in_flight_at_kill}"

    records = read_partition(broker.bootstrap, topic)
    numbers = [int(m.value()[4:]) for m in records]
    counts = collections.Counter(numbers)
    missing_acked = sorted(set(acked_at_kill) - set(counts))
    assert missing_acked == [], f"{len(missing_acked)} records acknowledged before kill -9 lost"
    duplicates = {n: c for n, c in counts.items() if c > 1}
    assert duplicates == {}, (
        f"{sum(c - 1 for c in duplicates.values())} duplicate records (the idempotent producer "
        f"resent them after the restart); first: {sorted(duplicates)[:10]}"
    )
    assert sorted(counts) == list(range(streamer.sent)), "some sent record never arrived"
    assert numbers == list(range(streamer.sent)), "records are out of order"
    assert [m.offset() for m in records] == list(range(len(records)))
    wrong = {n: o for n, o in streamer.acked.items() if records[o].value() != b"rec-%08d" % n}
    assert wrong == {}, "delivery reports name offsets where other records are stored"


CORRUPTIONS = [
    "flip_bytes_in_last_batch",
    "flip_length_of_last_batch",
    "truncate_mid_batch",
    "truncate_mid_header",
    "append_garbage",
    "append_zeros",
]


def corrupt(path: Path, how: str) -> tuple[int, int]:
    """Damage the segment's tail; return (bytes that stay valid, records that stay readable)."""
    data = path.read_bytes()
    batches = batches_in(data)
    last_pos, last_size, last_base = batches[-1]
    total = last_base + _records_in(data, last_pos)
    rng = random.Random(how)
    if how == "flip_bytes_in_last_batch":
        damaged = bytearray(data)
        for pos in (last_pos + last_size // 2, len(data) - 1):
            damaged[pos] ^= 0xFF
        path.write_bytes(bytes(damaged))
        return last_pos, last_base
    if how == "flip_length_of_last_batch":
        damaged = bytearray(data)
        struct.pack_into(">i", damaged, last_pos + 8, last_size - 12 + 1000)
        path.write_bytes(bytes(damaged))
        return last_pos, last_base
    if how == "truncate_mid_batch":
        os.truncate(path, last_pos + last_size // 2)
        return last_pos, last_base
    if how == "truncate_mid_header":
        os.truncate(path, last_pos + 7)
        return last_pos, last_base
    if how == "append_garbage":
        path.write_bytes(data + bytes(rng.randrange(256) for _ in range(333)))
        return len(data), total
    if how == "append_zeros":
        path.write_bytes(data + bytes(4096))
        return len(data), total
    raise AssertionError(how)


def _records_in(data: bytes, pos: int) -> int:
    (last_offset_delta,) = struct.unpack_from(">i", data, pos + 23)
    return last_offset_delta + 1


@pytest.mark.parametrize("stop", ["sigterm", "kill9"])
@pytest.mark.parametrize("how", CORRUPTIONS)
def test_corrupt_tail_is_cut_back_to_the_last_valid_batch_on_restart(broker, how, stop):
    """Whether the broker stopped cleanly or crashed, a damaged tail is found and cut on start."""
    topic = f"torn-{how.replace('_', '-')}-{stop}"
    values: list[bytes] = []
    for round_ in range(5):  # five flushes: at least five batches
        chunk = [f"{topic}/{round_}/{i}".encode() * (i % 5 + 1) for i in range(40)]
        delivered = produce(broker.bootstrap, topic, chunk)
        assert [d.offset for d in delivered] == list(range(len(values), len(values) + 40))
        values += chunk
    if stop == "sigterm":
        assert broker.stop() == 0
    else:
        broker.kill()
    path = segment_path(broker.data_dir, topic)
    assert len(batches_in(path.read_bytes())) >= 5
    valid_bytes, kept = corrupt(path, how)

    broker.start()
    assert broker.alive()
    wait_until(
        lambda: end_offset(broker.bootstrap, topic) == kept, 20, f"the log end offset to be {kept}"
    )
    assert path.stat().st_size == valid_bytes
    assert [m.value() for m in read_partition(broker.bootstrap, topic)] == values[:kept]

    more = [f"after/{i}".encode() for i in range(50)]
    delivered = produce(broker.bootstrap, topic, more)
    assert [d.offset for d in delivered] == list(range(kept, kept + 50))
    records = read_partition(broker.bootstrap, topic)
    assert [m.offset() for m in records] == list(range(kept + 50))
    assert [m.value() for m in records] == values[:kept] + more

    lines = [
        line
        for line in json_log_lines(broker.log_text())
        if "trunc" in str(line.get("event", "")).lower()
    ]
    assert lines, "no JSON log line about the truncation:\n" + broker.log_text()[-3000:]
    line = lines[-1]
    assert topic in json.dumps(line), line
    fields = {k: v for k, v in line.items() if k not in ("ts", "level", "logger", "event")}
    assert any(isinstance(v, int) for v in fields.values()), (
        f"the truncation line carries no structured fields (position, bytes cut): {line}"
    )


def test_sigterm_exits_0_and_restart_keeps_records_and_committed_offsets(broker):
    topic, group = "graceful", "graceful-group"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(10)
    values = [f"value-{i}".encode() for i in range(300)]
    delivered = produce(
        broker.bootstrap, topic, values, keys=[f"key-{i % 17}".encode() for i in range(300)]
    )
    assert {d.partition for d in delivered} == {0, 1, 2}, "keys should spread over partitions"

    consumer = make_consumer(broker.bootstrap, group=group)
    consumer.subscribe([topic])
    first = consume_n(consumer, 150)
    positions: dict[int, int] = {}
    for m in first:
        positions[m.partition()] = max(positions.get(m.partition(), -1), m.offset())
    consumer.commit(
        offsets=[TopicPartition(topic, p, o + 1) for p, o in positions.items()], asynchronous=False
    )
    consumer.close()

    assert broker.stop() == 0
    broker.start()

    for partition in range(3):
        stored = [(d.offset, d.value) for d in delivered if d.partition == partition]
        records = read_partition(broker.bootstrap, topic, partition)
        assert [(m.offset(), m.value()) for m in records] == sorted(stored)

    consumer = make_consumer(broker.bootstrap, group=group)
    committed = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    assert {tp.partition: tp.offset for tp in committed if tp.offset >= 0} == {
        p: o + 1 for p, o in positions.items()
    }
    consumer.subscribe([topic])
    consumed_before = {(m.partition(), m.offset()) for m in first}
    rest = consume_n(consumer, 300 - len(first))
    consumer.close()
    resumed = {(m.partition(), m.offset()) for m in rest}
    for partition in range(3):
        mine = sorted(o for p, o in resumed if p == partition)
        expected_start = positions.get(partition, -1) + 1
        assert not mine or mine[0] == expected_start, (
            f"partition {partition} resumed at {mine[0]}, committed {expected_start}"
        )
    assert resumed.isdisjoint(consumed_before)
    assert len(resumed) == 300 - len(first)
    assert sorted(m.value() for m in first + rest) == sorted(values)
