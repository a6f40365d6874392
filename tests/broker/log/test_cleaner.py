"""The log cleaner in motion: crashes at every step of a swap, produce while cleaning, the
background thread, and a real client reading a topic the broker compacted."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import warnings
from pathlib import Path

import pytest

import headwater.transport as hwt
from headwater.broker.log import LogConfig, LogManager, PartitionLog, iter_batches
from headwater.broker.log.cleaner import LogCleaner
from headwater.broker.log.compaction import clean

from ...conftest import BrokerProcess
from ..clients import produce, wait_until
from .compacted import T0, Row, latest_per_key, put, rows
from .conftest import abandon

KEYS = 4


class Crash(Exception):
    """The process dies here."""


class StepFault:
    """Counts file-system steps (rename, unlink, fsync) and raises Crash at the Nth."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0
        self.fired = False

    def wrap(self, real: object) -> object:
        def step(*args: object, **kwargs: object) -> object:
            self.calls += 1
            if self.calls == self.n:
                self.fired = True
                raise Crash(f"step {self.n}")
            return real(*args, **kwargs)  # type: ignore[operator]

        return step


def _open(directory: Path, **config: object) -> PartitionLog:
    return PartitionLog(directory, LogConfig(**config), "t", 0, now_ms=T0)  # type: ignore[arg-type]


def _fill(directory: Path) -> PartitionLog:
    """Segments of one batch each (keys updated round after round), then one group for cleaning:
    the last sealed batch updates every key, so a cleaned group ends where the old one did."""
    log = _open(directory, cleanup_policy="compact", segment_bytes=1)
    for r in range(6):
        put(log, [(f"k{k}".encode(), f"r{r}".encode()) for k in range(KEYS) if (r + k) % 3])
    put(log, [(f"k{k}".encode(), b"last") for k in range(KEYS)])
    put(log, [(b"active", b"a")])
    log.close()
    return _open(directory, cleanup_policy="compact", segment_bytes=1 << 20)


@pytest.mark.parametrize("step", ["os.replace", "os.unlink", "os.fsync"])
def test_a_crash_at_any_step_of_cleaning_reopens_fully_old_or_fully_cleaned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """For N = 1, 2, ...: the Nth rename, unlink or fsync of a pass kills the process."""
    reference = _fill(tmp_path / "reference" / "t-0")
    old = rows(reference)
    clean(reference, T0)
    cleaned = rows(reference)
    assert len(cleaned) < len(old)
    abandon(reference)
    name = step.split(".")[1]
    n = 0
    while True:
        n += 1
        directory = tmp_path / f"n{n}" / "t-0"
        log = _fill(directory)
        fault = StepFault(n)
        with monkeypatch.context() as patch:
            patch.setattr(os, name, fault.wrap(getattr(os, name)))
            with contextlib.suppress(Crash):
                clean(log, T0)
        abandon(log)
        reopened = _open(directory, cleanup_policy="compact", segment_bytes=1 << 20)
        got = rows(reopened)
        assert got in (old, cleaned), f"{step} #{n}: neither the old nor the cleaned log"
        leftovers = [p.name for p in directory.iterdir() if p.suffix in (".cleaned", ".swap")]
        assert leftovers == []
        put(reopened, [(b"after", b"x")], now_ms=T0 + 1)  # and it takes appends again
        assert rows(reopened)[-1][1:] == (b"after", b"x")
        abandon(reopened)
        if not fault.fired:
            break
    assert n > 2


def test_everything_acknowledged_during_cleaning_is_there_afterwards(tmp_path: Path) -> None:
    """A thread appends until three passes have overlapped it, and a little after."""
    log = _open(tmp_path / "t-0", cleanup_policy="compact", segment_bytes=2000)
    acked: list[Row] = []
    passes = [0]
    failures: list[BaseException] = []

    def produce() -> None:
        i = extra = 0
        try:
            while extra < 100:
                pairs = [(f"k{(i + j) % 10}".encode(), f"v{i + j}".encode()) for j in range(5)]
                first, _ = put(log, pairs)
                acked.extend((first + j, k, v) for j, (k, v) in enumerate(pairs))
                i += 5
                extra += passes[0] >= 3
        except BaseException as exc:
            failures.append(exc)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        while producer.is_alive():
            if clean(log, T0) is not None:
                passes[0] += 1
    finally:
        passes[0] = 3
        producer.join(60)
    assert failures == []
    clean(log, T0)
    got = rows(log)
    acknowledged = set(acked)
    assert all(row in acknowledged for row in got)
    assert [r[0] for r in got] == sorted({r[0] for r in got})
    assert set(latest_per_key(acked).values()) <= set(got)
    assert len(got) < len(acked)
    abandon(log)


def test_clean_now_runs_a_pass_in_the_thread_and_rolls_a_quiet_active_segment(
    tmp_path: Path,
) -> None:
    manager = LogManager(tmp_path / "logs")
    topic = manager.create_topic(
        "positions", 1, {"cleanup.policy": "compact", "segment.ms": "1000"}
    )
    log = topic.partitions[0]
    for r in range(50):
        put(log, [(b"source-a", f"{r}".encode()), (b"source-b", f"{r}".encode())])
    now = [T0 + 999]
    cleaner = LogCleaner(manager, backoff_ms=3_600_000, clock=lambda: now[0])
    cleaner.start()
    try:
        assert cleaner.clean_now()
        assert len(rows(log)) == 100  # one active segment, younger than segment.ms: untouched
        now[0] = T0 + 1000
        assert cleaner.clean_now()
        assert rows(log) == [(98, b"source-a", b"49"), (99, b"source-b", b"49")]
    finally:
        cleaner.stop()
        manager.close()
    assert not cleaner.clean_now(timeout_s=1)  # stopped: nothing to wait for


def test_a_topic_without_compact_is_never_touched(tmp_path: Path) -> None:
    manager = LogManager(tmp_path / "logs")
    log = manager.create_topic("plain", 1, {"segment.ms": "1"}).partitions[0]
    put(log, [(b"a", b"1")])
    put(log, [(b"a", b"2")], now_ms=T0 + 10)
    cleaner = LogCleaner(manager, clock=lambda: T0 + 100_000)
    assert cleaner.run_once() == []
    assert len(rows(log)) == 2
    manager.close()


def _create_compacted(bootstrap: str, topic: str) -> None:
    with hwt.connect(bootstrap).admin() as admin:
        config = {
            "cleanup.policy": "compact",
            "segment.bytes": "4096",
            "segment.ms": "500",
            "min.cleanable.dirty.ratio": "0.01",  # clean even a small dirty tail
        }
        admin.create_topics([hwt.TopicSpec(topic, partitions=1, config=config)])


def _wait_cleaned(broker: BrokerProcess, topic: str, end_offset: int) -> None:
    """Until the broker logs a `log_cleaned` line for `topic` that covers `end_offset`."""

    def cleaned_to_end() -> bool:
        for line in broker.log_text().splitlines():
            if line.startswith("{") and '"log_cleaned"' in line:
                event = json.loads(line)
                if event["topic"] == topic and event["cleaned_to"] >= end_offset:
                    return True
        return False

    wait_until(cleaned_to_end, 60, f"a log_cleaned event for {topic} up to {end_offset}")


@pytest.mark.parametrize("codec", ["none", "lz4", "snappy", "zstd"])
def test_a_consumer_reads_the_latest_value_per_key_after_the_broker_compacted(
    broker_factory, codec: str
) -> None:
    """confluent-kafka through headwater.transport, against `headwater broker`; the cleaner
    rewrites batches in their codec, and librdkafka must decompress what it wrote."""
    broker = broker_factory("--log-cleaner-backoff-ms", "100")
    conn = hwt.connect(broker.bootstrap)
    topic = f"compacted.{codec}"
    _create_compacted(broker.bootstrap, topic)
    latest: dict[bytes, bytes] = {}
    with conn.producer(hwt.ProducerOptions(compression=codec)) as producer:  # type: ignore[arg-type]
        for i in range(3000):
            key, value = f"key{i % 5}".encode(), f"value{i}".encode() * (1 + i % 3)
            producer.produce(topic, value, key=key)
            latest[key] = value
        assert producer.flush(30) == 0
    _wait_cleaned(broker, topic, 3000)
    options = hwt.ConsumerOptions(fetch_max_wait_ms=100)
    got: dict[bytes, bytes] = {}
    count = 0
    with conn.consumer("compacted-reader", options) as consumer:
        part = hwt.TopicPartition(topic, 0, hwt.EARLIEST)
        consumer.assign([part])
        _, high = consumer.watermarks(part, 10)
        assert high == 3000  # offsets are preserved: the log end did not move

        def read_some() -> None:
            nonlocal count
            for record in consumer.consume(1000, 0.2):
                assert record.key is not None and record.value is not None
                got[record.key] = record.value
                count += 1

        wait_until(lambda: consumer.at_end(part), 30, "the end of the topic", step=read_some)
    assert got == latest
    assert count == len(latest)


def test_kafka_python_and_kcat_step_over_gaps_and_empty_batches(broker_factory) -> None:
    """Producer 1 (gzip) is superseded by producer 2 but for one key: its first batch is
    rewritten, still gzip, around that key, its last batch stays, empty (Kafka keeps a producer's
    last batch for its sequence numbers), and everything between goes."""
    broker = broker_factory("--log-cleaner-backoff-ms", "100")
    topic = "compacted.clients"
    _create_compacted(broker.bootstrap, topic)
    keys = [b"keep"] + [f"k{i % 5}".encode() for i in range(500)]
    small_gzip_batches = {"compression.type": "gzip", "linger.ms": 0, "batch.num.messages": 10}
    first = produce(broker.bootstrap, topic, [b"kept"] + [b"old"] * 500, keys, **small_gzip_batches)
    second = produce(broker.bootstrap, topic, [b"new"] * 5, keys[1:6])
    end = second[-1].offset + 1
    _wait_cleaned(broker, topic, end)
    expected = [(0, b"keep", b"kept")] + [(d.offset, d.key, b"new") for d in second]
    assert first[-1].offset < second[0].offset
    headers = [
        header
        for path in sorted((broker.data_dir / "logs" / f"{topic}-0").glob("*.log"))
        for _, header in iter_batches(path.read_bytes())
    ]
    assert (headers[0].base_offset, headers[0].records_count, headers[0].compression) == (0, 1, 1)
    assert headers[0].last_offset_delta > 0  # rewritten around the one kept record
    assert headers[1].records_count == 0  # producer 1's last batch, kept for its sequence
    assert headers[1].last_offset == first[-1].offset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=broker.bootstrap, enable_auto_commit=False, consumer_timeout_ms=10_000
    )
    part = TopicPartition(topic, 0)
    consumer.assign([part])
    consumer.seek_to_beginning(part)
    seen = []
    for message in consumer:
        seen.append((message.offset, message.key, message.value))
        if message.offset == end - 1:
            break
    consumer.close()
    assert seen == expected

    kcat = shutil.which("kcat")
    if kcat is None:
        pytest.skip("kcat is not installed")
    for start, want in (("beginning", expected), ("3", expected[1:])):  # 3: compacted away
        out = subprocess.run(
            [kcat, "-C", "-q", "-b", broker.bootstrap, "-t", topic, "-p", "0", "-o", start,
             "-e", "-J"],
            capture_output=True, timeout=40, check=True,
        ).stdout  # fmt: skip
        lines = [json.loads(line) for line in out.splitlines() if line.strip()]
        assert [(m["offset"], m["key"].encode(), m["payload"].encode()) for m in lines] == want
