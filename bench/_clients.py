"""Client workers, each run in its own process (multiprocessing, spawn).

Every worker prepares (connects, builds its batches), puts ("ready", index) on the result queue,
waits for the `go` event, does its work and puts ("done", index, Result). Times are
time.monotonic() (CLOCK_MONOTONIC, one clock for all processes) so the parent can take the span
from the first worker's start to the last worker's end. CPU is the worker process's own (all its
threads, librdkafka's included).
"""

from __future__ import annotations

import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any

VALUE_SIZE = 100


@dataclass
class Result:
    records: int = 0
    nbytes: int = 0  # RecordBatch bytes sent or received (producers and raw consumers)
    start: float = 0.0
    end: float = 0.0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds (latency worker only)
    errors: int = 0
    note: str = ""


def run_worker(kind: str, index: int, args: dict[str, Any], queue: Any, go: Any) -> None:
    """Entry point of every worker process: never raises, reports ("error", index, text)."""
    try:
        worker = _worker(kind)(**args)
        queue.put(("ready", index))
        if not go.wait(args.get("deadline", 600) - time.monotonic()):
            raise TimeoutError("never told to start")
        cpu0 = time.process_time()
        result = worker()
        result.cpu = time.process_time() - cpu0
        queue.put(("done", index, result))
    except BaseException:  # reported to the parent, which stops the run
        queue.put(("error", index, traceback.format_exc()))


def _worker(kind: str) -> Any:
    if kind in _WORKERS:
        return _WORKERS[kind]
    from _paced import PACED_WORKERS

    return PACED_WORKERS[kind]


def _raw_producer(
    host: str,
    port: int,
    topic: str,
    partitions: list[int],
    records: int,
    batch_records: int,
    inflight: int,
    deadline: float,
) -> Any:
    from _wire import Connection, build_batch, encode_string, stamp_batch

    conn = Connection(host, port, client_id="bench-raw-producer")
    producer_id, epoch = conn.init_producer_id()
    full = build_batch(batch_records, b"x" * VALUE_SIZE)
    rest = records % batch_records
    tail = build_batch(rest, b"x" * VALUE_SIZE) if rest else None
    nbatches = records // batch_records + (1 if rest else 0)
    topic_raw = encode_string(topic)
    sequences = dict.fromkeys(partitions, 0)

    def work() -> Result:
        res = Result(start=time.monotonic())
        pending: deque[int] = deque()
        sent = 0
        while sent < nbatches or pending:
            while sent < nbatches and len(pending) < inflight:
                batch = tail if (tail is not None and sent == nbatches - 1) else full
                count = rest if batch is tail else batch_records
                partition = partitions[sent % len(partitions)]
                stamp_batch(batch, producer_id, epoch, sequences[partition])
                sequences[partition] += count
                conn.send_produce(topic_raw, partition, batch)
                pending.append(count)
                res.nbytes += len(batch)
                sent += 1
            conn.receive_produce()
            res.records += pending.popleft()
            if time.monotonic() > deadline:
                raise TimeoutError(f"raw producer: {res.records} of {records} acknowledged")
        res.end = time.monotonic()
        conn.close()
        return res

    return work


def _raw_consumer(
    host: str,
    port: int,
    topic: str,
    partitions: list[int],
    records: int,
    fetch_max_bytes: int,
    partition_max_bytes: int,
    deadline: float,
) -> Any:
    from _wire import Connection, encode_string

    conn = Connection(host, port, client_id="bench-raw-consumer")
    topic_raw = encode_string(topic)
    offsets = dict.fromkeys(partitions, 0)

    def work() -> Result:
        res = Result(start=time.monotonic())
        while res.records < records:
            conn.send_fetch(topic_raw, offsets, fetch_max_bytes, partition_max_bytes)
            n, b = conn.receive_fetch(offsets)
            res.records += n
            res.nbytes += b
            if time.monotonic() > deadline:
                raise TimeoutError(f"raw consumer: {res.records} of {records} fetched")
        res.end = time.monotonic()
        conn.close()
        return res

    return work


def rdkafka_config(bootstrap: str, **extra: Any) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap, "log_level": 3, **extra}


def _rdkafka_producer(
    bootstrap: str,
    topic: str,
    partitions: list[int],
    records: int,
    batch_records: int,
    deadline: float,
) -> Any:
    from confluent_kafka import Producer

    producer = Producer(
        rdkafka_config(
            bootstrap,
            **{
                "acks": "all",
                "enable.idempotence": True,
                "compression.type": "none",
                "linger.ms": 10,
                "batch.size": 1_000_000,
                "batch.num.messages": 10_000,
                "queue.buffering.max.messages": 1_000_000,
                "queue.buffering.max.kbytes": 1_048_576,
                # Only failures come back: every produced record not failed and not left in
                # the queue after flush() was acknowledged. Saves a Python callback per record.
                "delivery.report.only.error": True,
            },
        )
    )
    producer.list_topics(topic, timeout=10)
    chunk = [{"value": b"x" * VALUE_SIZE} for _ in range(1000)]
    failed = [0]

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failed[0] += 1

    def work() -> Result:
        res = Result(start=time.monotonic())
        produced = 0
        i = 0
        while produced < records:
            msgs = chunk if records - produced >= len(chunk) else chunk[: records - produced]
            partition = partitions[i % len(partitions)]
            try:
                produced += producer.produce_batch(
                    topic, msgs, partition=partition, on_delivery=on_delivery
                )
                i += 1
            except BufferError:
                producer.poll(0.001)
            producer.poll(0)
            if time.monotonic() > deadline:
                raise TimeoutError("librdkafka producer: deadline")
        left = producer.flush(max(1.0, deadline - time.monotonic()))
        res.end = time.monotonic()
        res.errors = failed[0] + left
        res.records = produced - res.errors
        return res

    return work


def _rdkafka_consumer(
    bootstrap: str, topic: str, partitions: list[int], records: int, deadline: float
) -> Any:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        rdkafka_config(
            bootstrap,
            **{
                "group.id": "bench",
                "enable.auto.commit": False,
                "fetch.max.bytes": 64 << 20,
                "max.partition.fetch.bytes": 16 << 20,
                "queued.max.messages.kbytes": 262_144,
                "fetch.wait.max.ms": 100,
            },
        )
    )
    consumer.list_topics(topic, timeout=10)

    def work() -> Result:
        res = Result(start=time.monotonic())
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        while res.records < records:
            for msg in consumer.consume(num_messages=10_000, timeout=0.5):
                if msg.error() is None:
                    res.records += 1
                else:
                    res.errors += 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"librdkafka consumer: {res.records} of {records}")
        res.end = time.monotonic()
        consumer.close()
        return res

    return work


_WORKERS = {
    "raw-producer": _raw_producer,
    "raw-consumer": _raw_consumer,
    "rdkafka-producer": _rdkafka_producer,
    "rdkafka-consumer": _rdkafka_consumer,
}
