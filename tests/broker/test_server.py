"""The server keeps its event loop free of blocking disk writes: a produce stuck in its write
does not hold up other connections, answers on one connection stay in request order, and only
small page-cache appends run on the loop, and only while the writer thread is idle.

The broker runs in-process (its own event loop in a thread) so that one partition's storage can
be made to block: its `append` waits on an event the test sets, as a disk stuck in fsync would.
The clients are real librdkafka ones.
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message
from confluent_kafka.admin import AdminClient
from kio.schema.list_offsets.v1.request import ListOffsetsPartition as ListOffsetsPartitionV1
from kio.schema.list_offsets.v1.request import ListOffsetsRequest as ListOffsetsV1
from kio.schema.list_offsets.v1.request import ListOffsetsTopic as ListOffsetsTopicV1
from kio.schema.list_offsets.v1.response import ListOffsetsResponse as ListOffsetsResponseV1
from kio.schema.produce.v3.request import PartitionProduceData as PartitionV3
from kio.schema.produce.v3.request import ProduceRequest as ProduceV3
from kio.schema.produce.v3.request import TopicProduceData as TopicV3
from kio.schema.produce.v3.response import ProduceResponse as ProduceResponseV3
from kio.serial import entity_reader
from kio.static.primitive import i16, i32, i64

from headwater.broker.config import BrokerConfig
from headwater.broker.log import LogConfig, PartitionLog
from headwater.broker.log.config import FlushPolicy
from headwater.broker.server import BrokerServer
from tests.broker.clients import make_producer, read_partition
from tests.broker.test_fuzz_wire import record_batch, request_frame
from tests.conftest import free_port
from tests.kit.waiting import wait_until

STUCK_S = 60.0  # how long a blocked append waits at most, so a failing test cannot hang


class InProcessBroker:
    """A BrokerServer on its own event loop in a thread."""

    def __init__(self, data_dir: Path, flush_policy: FlushPolicy = "always") -> None:
        self.config = BrokerConfig(
            port=free_port(), data_dir=data_dir, log=LogConfig(flush_policy=flush_policy)
        )
        self.server = BrokerServer(self.config)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="broker-loop", daemon=True
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.config.port}"

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(30)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the broker's loop thread and return its result."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)


class StuckStorage:
    """Makes one partition's appends wait until `release` is set; `entered` tells when one does.

    `inside_lock`: the wait happens where the write and fsync do, inside the partition's lock
    (`PartitionLog._append`), as a disk stuck in fdatasync would hold it."""

    def __init__(self, log: PartitionLog, inside_lock: bool = False) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.threads: list[str] = []
        name = "_append" if inside_lock else "append"
        original = getattr(log, name)

        def append(records: Any, now_ms: int) -> Any:
            self.threads.append(threading.current_thread().name)
            self.entered.set()
            self.release.wait(STUCK_S)
            return original(records, now_ms)

        setattr(log, name, append)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[InProcessBroker]:
    b = InProcessBroker(tmp_path / "data")
    b.start()
    yield b
    b.stop()


def produce_requests(broker: InProcessBroker) -> float:
    """How many Produce requests the broker has received."""
    counter = broker.server.state.metrics.requests.labels(api="produce")
    return float(broker.call(lambda: counter._value.get()))


@pytest.fixture
def interval_broker(tmp_path: Path) -> Iterator[InProcessBroker]:
    """The broker's default flush policy (`interval`): appends need no fdatasync."""
    b = InProcessBroker(tmp_path / "data", flush_policy="interval")
    b.start()
    yield b
    b.stop()


def stick(
    broker: InProcessBroker,
    topic: str,
    inside_lock: bool = False,
    configs: dict[str, str] | None = None,
) -> StuckStorage:
    def create() -> PartitionLog:
        return broker.server.state.logs.create_topic(topic, 1, configs or {}).partitions[0]

    return StuckStorage(broker.call(create), inside_lock)


def test_a_fetch_of_the_partition_being_written_is_answered_while_its_fsync_is_stuck(
    broker,
) -> None:
    """A consumer tailing the partition a producer writes: its reads never wait for the append
    (the write and fsync hold the partition's writer lock, reads take only its read lock)."""
    stuck = stick(broker, "tail", inside_lock=True)
    producer = make_producer(broker.bootstrap)
    stuck.release.set()  # the first record goes through
    producer.produce("tail", b"first")
    assert producer.flush(30) == 0
    stuck.release.clear()
    stuck.entered.clear()
    producer.produce("tail", b"second")
    producer.poll(0)
    try:
        assert stuck.entered.wait(30), "the second produce never reached the partition's write"
        first = read_partition(broker.bootstrap, "tail", count=1)
        assert [m.value() for m in first] == [b"first"]
        assert not stuck.release.is_set()  # answered while the write was still stuck
    finally:
        stuck.release.set()
    assert producer.flush(30) == 0
    assert [m.value() for m in read_partition(broker.bootstrap, "tail")] == [b"first", b"second"]


def test_other_connections_are_answered_while_a_produce_is_stuck_in_its_write(broker) -> None:
    stuck = stick(broker, "slow")
    producer = make_producer(broker.bootstrap)
    delivered: list[tuple[KafkaError | None, Message]] = []
    producer.produce("slow", b"v", on_delivery=lambda err, msg: delivered.append((err, msg)))
    producer.poll(0)
    try:
        assert stuck.entered.wait(30), "the produce never reached the partition's append"

        # Another connection: Metadata is answered while the append is still blocked.
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        topics = admin.list_topics(timeout=20).topics
        assert "slow" in topics
        assert not stuck.release.is_set() and delivered == []  # the write is still stuck
    finally:
        stuck.release.set()
    assert producer.flush(30) == 0
    assert [(err, msg.offset()) for err, msg in delivered] == [(None, 0)]
    assert stuck.threads == ["broker-writer"]  # the write ran off the event loop thread
    assert [m.value() for m in read_partition(broker.bootstrap, "slow")] == [b"v"]


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """(correlation id, body) of the next response frame (header v0)."""

    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "the broker closed the connection"
            data += chunk
        return data

    (size,) = struct.unpack(">i", exactly(4))
    frame = exactly(size)
    return struct.unpack_from(">i", frame)[0], frame[4:]


def test_a_request_after_a_stuck_produce_on_its_connection_sees_the_append(broker) -> None:
    """Pipelined on one connection: Produce, then ListOffsets(latest). The second is answered
    after the first and reports the end offset after the append, as Kafka (one request at a
    time per connection) would, although the append ran on another thread."""
    stuck = stick(broker, "slow")
    produce = ProduceV3(
        transactional_id=None,
        acks=i16(1),
        timeout=datetime.timedelta(seconds=30),
        topic_data=(
            TopicV3(
                name="slow",
                partition_data=(PartitionV3(index=i32(0), records=record_batch([(None, b"v")])),),
            ),
        ),
    )
    latest = ListOffsetsV1(
        replica_id=i32(-1),
        topics=(
            ListOffsetsTopicV1(
                name="slow",
                partitions=(ListOffsetsPartitionV1(partition_index=i32(0), timestamp=i64(-1)),),
            ),
        ),
    )
    with socket.create_connection(("127.0.0.1", broker.config.port), timeout=30) as sock:
        sock.sendall(request_frame(produce, 1) + request_frame(latest, 2))
        try:
            assert stuck.entered.wait(30)
        finally:
            stuck.release.set()
        produced_id, produced = read_response(sock)
        listed_id, listed = read_response(sock)
    assert (produced_id, listed_id) == (1, 2)
    body, _ = entity_reader(ProduceResponseV3)(produced, 0)
    assert body.responses[0].partition_responses[0].base_offset == 0
    offsets, _ = entity_reader(ListOffsetsResponseV1)(listed, 0)
    assert offsets.topics[0].partitions[0].offset == 1


def test_small_appends_run_on_the_event_loop_and_large_ones_on_the_writer(interval_broker) -> None:
    """No fdatasync and at most 64 KiB: the append runs inline (cheaper than the thread hop);
    a larger one goes to the writer thread."""
    watched = stick(interval_broker, "sizes")
    watched.release.set()  # only watch which thread appends
    producer = make_producer(interval_broker.bootstrap, **{"linger.ms": 0})
    producer.produce("sizes", b"small")
    assert producer.flush(30) == 0
    producer.produce("sizes", b"x" * (100 * 1024))
    assert producer.flush(30) == 0
    assert watched.threads == ["broker-loop", "broker-writer"]
    values = [m.value() for m in read_partition(interval_broker.bootstrap, "sizes")]
    assert values == [b"small", b"x" * (100 * 1024)]


def test_a_small_produce_waits_behind_a_stuck_write_so_appends_keep_arrival_order(
    interval_broker,
) -> None:
    """While the writer is busy (a topic with flush.messages=1 stuck in its fdatasync), a small
    produce to another topic from another connection is queued behind it, not run inline."""
    slow = stick(interval_broker, "slow", configs={"flush.messages": "1"})
    fast = stick(interval_broker, "fast")
    fast.release.set()
    slow_producer = make_producer(interval_broker.bootstrap, **{"linger.ms": 0})
    fast_producer = make_producer(interval_broker.bootstrap, **{"linger.ms": 0})
    fast_producer.list_topics("fast", timeout=20)
    delivered: list[str] = []
    try:
        slow_producer.produce("slow", b"s", on_delivery=lambda e, m: delivered.append("slow"))
        slow_producer.poll(0)
        assert slow.entered.wait(30), "the slow produce never reached its append"
        fast_producer.produce("fast", b"f", on_delivery=lambda e, m: delivered.append("fast"))
        fast_producer.poll(0)
        wait_until(lambda: produce_requests(interval_broker) >= 2, 30, "the fast produce to arrive")
        assert fast.threads == []  # arrived, and not appended on the loop
        assert delivered == []
    finally:
        slow.release.set()
    assert slow_producer.flush(30) == 0 and fast_producer.flush(30) == 0
    assert fast.threads == ["broker-writer"]
    assert sorted(delivered) == ["fast", "slow"]
