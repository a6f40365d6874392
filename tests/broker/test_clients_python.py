"""kafka-python and aiokafka (older protocol versions) against the embedded broker."""

from __future__ import annotations

import asyncio

import pytest


def test_kafka_python_produces_and_consumes_in_a_group(broker):
    kafka = pytest.importorskip("kafka")
    producer = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    futures = [
        producer.send("kp", key=f"k{i}".encode(), value=f"v{i}".encode()) for i in range(500)
    ]
    offsets = sorted(f.get(timeout=30).offset for f in futures)
    producer.close()
    assert offsets == list(range(500))
    consumer = kafka.KafkaConsumer(
        "kp",
        bootstrap_servers=broker.bootstrap,
        group_id="kpg",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10000,
    )
    values = []
    for msg in consumer:
        values.append(msg.value)
        if len(values) == 500:
            break
    consumer.commit()
    committed = consumer.committed(kafka.TopicPartition("kp", 0))
    consumer.close()
    assert values == [f"v{i}".encode() for i in range(500)]
    assert committed == 500


def test_aiokafka_produces_and_consumes_in_a_group(broker):
    aiokafka = pytest.importorskip("aiokafka")

    async def scenario():
        producer = aiokafka.AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            for i in range(300):
                await producer.send("ak", f"v{i}".encode(), key=b"k")
            await producer.flush()
        finally:
            await producer.stop()
        consumer = aiokafka.AIOKafkaConsumer(
            "ak",
            bootstrap_servers=broker.bootstrap,
            group_id="akg",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        values = []
        try:
            async with asyncio.timeout(30):
                while len(values) < 300:
                    batch = await consumer.getmany(timeout_ms=1000)
                    for msgs in batch.values():
                        values.extend(m.value for m in msgs)
            await consumer.commit()
        finally:
            await consumer.stop()
        return values

    assert asyncio.run(scenario()) == [f"v{i}".encode() for i in range(300)]
