"""The sink consumes the next batch while the flush thread commits the last one: a partition's
commits stay in offset order, each record lands once, and stopping commits what is buffered."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from deltalake import DeltaTable

import headwater.transport as hwt
from headwater.lake import txn
from headwater.sink.runner import Sink, SinkConfig
from headwater.sink.topic import TopicSink

from ..conftest import BrokerProcess
from ..lake.events import click_value
from ..transport.support import FAST_GROUP, wait_until

TOPIC = "clickstream.events"


def test_batches_commit_in_order_while_the_next_is_consumed(
    broker: BrokerProcess, tmp_path: Path, monkeypatch
) -> None:
    with hwt.connect(broker.bootstrap) as t:
        t.admin().create_topics([hwt.TopicSpec(TOPIC, 2)])
        with t.producer() as producer:
            for i in range(205):
                producer.produce(TOPIC, click_value(i), partition=i % 2)
            assert producer.flush(30) == 0
    flushing = threading.Event()
    consumed_while_flushing: list[int] = []
    consumed: list[int] = []
    flush_threads: set[str] = set()
    slow_flush = TopicSink.flush

    def flush(self: TopicSink, batch):  # type: ignore[no-untyped-def]
        flush_threads.add(threading.current_thread().name)
        flushing.set()
        try:
            time.sleep(0.3)  # long enough for the sink thread to consume meanwhile
            return slow_flush(self, batch)
        finally:
            flushing.clear()

    monkeypatch.setattr(TopicSink, "flush", flush)
    config = SinkConfig(lake=tmp_path, group="piped", max_rows=40, max_age_s=600,
                        fetch_records=10, consumer=FAST_GROUP)  # fmt: skip
    with hwt.connect(broker.bootstrap) as transport:
        sink = Sink(transport, config)
        consume = sink._consumer.consume_columns

        def consume_columns(n: int, timeout_s: float) -> hwt.RecordColumns:
            cols = consume(n, timeout_s)
            consumed.append(len(cols))
            if len(cols) and flushing.is_set():
                consumed_while_flushing.append(len(cols))
            return cols

        monkeypatch.setattr(sink._consumer, "consume_columns", consume_columns)
        thread = threading.Thread(target=sink.run)
        thread.start()
        table = tmp_path / "clickstream_events"
        try:
            wait_until(lambda: sum(consumed) == 205, 60, "every record consumed")
        finally:
            sink.stop()
            thread.join(60)
    assert not thread.is_alive()
    assert sink.commits >= 5  # 4 full batches of 40 at least, then what was left when stopping
    assert consumed_while_flushing, "the sink thread waited for each flush"
    assert all(name.startswith("sink-flush") for name in flush_threads), flush_threads
    landed = DeltaTable(str(table)).to_pyarrow_table(columns=["_partition", "_offset"])
    rows = sorted(zip(landed["_partition"].to_pylist(), landed["_offset"].to_pylist(), strict=True))
    assert rows == sorted((i % 2, i // 2) for i in range(205))
    # Each version's txn per partition: the commits went in offset order, to the last offsets.
    last = DeltaTable(str(table)).version()
    app = {p: txn.app_id("piped", TOPIC, p) for p in (0, 1)}
    versions = [DeltaTable(str(table), version=v) for v in range(last + 1)]
    seen = [[d.transaction_version(app[p]) for p in (0, 1)] for d in versions]
    for p in (0, 1):
        stored = [s[p] for s in seen if s[p] is not None]
        assert stored == sorted(stored) and stored[-1] == (102 if p == 0 else 101)
