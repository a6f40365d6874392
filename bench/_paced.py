"""Paced producers for the latency scenario: a fixed rate, chunks sent every millisecond.

Pacing sleeps to each tick's due time and counts ticks that started more than 1 ms late (a sign
that the client, not the broker, fell behind). Only records sent after the warm-up are measured.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from _clients import VALUE_SIZE, Result, rdkafka_config


def rdkafka_paced_producer(
    bootstrap: str,
    topic: str,
    partitions: list[int],
    rate: int,
    seconds: float,
    warmup: float,
    linger_ms: float,
    deadline: float,
) -> Any:
    """One librdkafka producer sending rate/1000 records every millisecond; latency is the
    delivery callback's time minus the produce call's time, per record."""
    from confluent_kafka import Producer

    producer = Producer(
        rdkafka_config(
            bootstrap,
            **{
                "acks": "all",
                "enable.idempotence": True,
                "compression.type": "none",
                "linger.ms": linger_ms,
            },
        )
    )
    producer.list_topics(topic, timeout=10)
    per_tick = max(1, rate // 1000)
    msgs = [{"value": b"x" * VALUE_SIZE} for _ in range(per_tick)]
    clock = time.perf_counter

    def work() -> Result:
        res = Result(start=time.monotonic())
        latencies = res.latencies
        failed = [0]
        stop = threading.Event()

        def serve() -> None:  # delivery callbacks run here, as soon as librdkafka has them
            while not stop.is_set():
                producer.poll(0.05)

        poller = threading.Thread(target=serve, name="delivery-reports", daemon=True)
        poller.start()
        t0 = clock()
        measure_from = t0 + warmup
        ticks = int((seconds + warmup) * 1000)
        late = 0
        for tick in range(ticks):
            delay = t0 + tick / 1000 - clock()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.001:
                late += 1
            sent_at = clock()
            if sent_at >= measure_from:

                def on_delivery(err: Any, _msg: Any, sent_at: float = sent_at) -> None:
                    if err is None:
                        latencies.append(clock() - sent_at)
                    else:
                        failed[0] += 1

            else:

                def on_delivery(err: Any, _msg: Any) -> None:
                    if err is not None:
                        failed[0] += 1

            partition = partitions[tick % len(partitions)]
            res.records += producer.produce_batch(
                topic, msgs, partition=partition, on_delivery=on_delivery
            )
            if time.monotonic() > deadline:
                raise TimeoutError("paced producer: deadline")
        stop.set()
        poller.join()
        res.errors = failed[0] + producer.flush(max(1.0, deadline - time.monotonic()))
        res.end = time.monotonic()
        res.note = f"{late} of {ticks} 1-ms ticks started more than 1 ms late"
        return res

    return work


def raw_paced_producer(
    host: str,
    port: int,
    topic: str,
    partitions: list[int],
    rate: int,
    seconds: float,
    warmup: float,
    deadline: float,
) -> Any:
    """The raw client sending one rate/1000-record batch every millisecond (round-robin over the
    partitions); latency is response time minus send time, per request, read by a second thread."""
    from _wire import Connection, build_batch, encode_string, stamp_batch

    conn = Connection(host, port, client_id="bench-raw-paced")
    producer_id, epoch = conn.init_producer_id()
    per_tick = max(1, rate // 1000)
    batch = build_batch(per_tick, b"x" * VALUE_SIZE)
    topic_raw = encode_string(topic)
    sequences = dict.fromkeys(partitions, 0)
    clock = time.perf_counter

    def work() -> Result:
        res = Result(start=time.monotonic())
        sent: deque[float] = deque()
        ticks = int((seconds + warmup) * 1000)
        failure: list[BaseException] = []

        def read() -> None:
            try:
                for _ in range(ticks):
                    conn.receive_produce()
                    at, sent_at = clock(), sent.popleft()
                    if sent_at >= measure_from:
                        res.latencies.extend([at - sent_at] * per_tick)
            except BaseException as exc:  # reported by the sending thread
                failure.append(exc)

        reader = threading.Thread(target=read, name="responses", daemon=True)
        t0 = clock()
        measure_from = t0 + warmup
        reader.start()
        late = 0
        for tick in range(ticks):
            delay = t0 + tick / 1000 - clock()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.001:
                late += 1
            partition = partitions[tick % len(partitions)]
            stamp_batch(batch, producer_id, epoch, sequences[partition])
            sequences[partition] += per_tick
            sent.append(clock())
            conn.send_produce(topic_raw, partition, batch)
            res.records += per_tick
            if failure or time.monotonic() > deadline:
                break
        reader.join(max(0.1, deadline - time.monotonic()))
        if failure or reader.is_alive():
            raise RuntimeError(f"raw paced producer: {failure or 'responses missing'}")
        res.end = time.monotonic()
        res.note = f"{late} of {ticks} 1-ms ticks started more than 1 ms late"
        conn.close()
        return res

    return work


PACED_WORKERS = {
    "paced-producer": rdkafka_paced_producer,
    "raw-paced-producer": raw_paced_producer,
}
