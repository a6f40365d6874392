"""The sink consumes the next batch while the flush thread commits the last one: a partition's
commits stay in offset order, each record lands once, and stopping commits what is buffered."""

from __future__ import annotations

import threading
from pathlib import Path

from deltalake import DeltaTable

import headwater.transport as hwt
from headwater.lake import txn
from headwater.sink.buffer import TopicBuffer
from headwater.sink.runner import Sink, SinkConfig
from headwater.sink.topic import TopicSink

from ..conftest import BrokerProcess
from ..lake.events import click_value
from ..transport.support import FAST_GROUP, wait_until

TOPIC = "clickstream.events"
RECORDS = 205
#: How long a flush waits for the sink thread to consume meanwhile before calling the overlap
#: broken: generous, since only a sink thread that waits for the flush ever reaches it.
OVERLAP_DEADLINE_S = 30.0


def test_batches_commit_in_order_while_the_next_is_consumed(
    broker: BrokerProcess, tmp_path: Path, monkeypatch
) -> None:
    with hwt.connect(broker.bootstrap) as t:
        t.admin().create_topics([hwt.TopicSpec(TOPIC, 2)])
        with t.producer() as producer:
            for i in range(RECORDS):
                producer.produce(TOPIC, click_value(i), partition=i % 2)
            assert producer.flush(30) == 0
    # One event per batch handed to the flush thread, in order: set once the sink thread has
    # consumed records after handing it over. Its flush waits for it, so each flush overlaps
    # consuming unless the sink thread waits for the flush (then the flush gives up and fails).
    handed_over: list[threading.Event] = []
    overlapped: list[int] = []  # sizes of the batches whose flush saw the sink thread consume
    consumed: list[int] = []
    flush_threads: list[str] = []  # the thread of each flush, in order
    slow_flush = TopicSink.flush

    def flush(self: TopicSink, batch):  # type: ignore[no-untyped-def]
        """Held until the sink thread consumed records since the hand-over, if any are left."""
        consumed_after = handed_over[len(flush_threads)]
        flush_threads.append(threading.current_thread().name)
        if sum(consumed) < RECORDS:
            if not consumed_after.wait(OVERLAP_DEADLINE_S):
                raise AssertionError("nothing consumed during a flush: the sink thread waited")
            overlapped.append(len(batch))
        return slow_flush(self, batch)

    monkeypatch.setattr(TopicSink, "flush", flush)
    config = SinkConfig(lake=tmp_path, group="piped", max_rows=40, max_age_s=600,
                        fetch_records=10, consumer=FAST_GROUP)  # fmt: skip
    with hwt.connect(broker.bootstrap) as transport:
        sink = Sink(transport, config)
        consume = sink._consumer.consume_columns
        hand_over = sink._flush

        def consume_columns(n: int, timeout_s: float) -> hwt.RecordColumns:
            cols = consume(n, timeout_s)
            consumed.append(len(cols))
            if len(cols) and handed_over:
                handed_over[-1].set()
            return cols

        def flush_in_background(buffer: TopicBuffer) -> None:
            handed_over.append(threading.Event())
            hand_over(buffer)  # waits for the batch before, then hands this one over

        failed: list[BaseException] = []

        def run() -> None:
            try:
                sink.run()
            except BaseException as exc:  # a held flush that gave up, or any other failure
                failed.append(exc)

        monkeypatch.setattr(sink._consumer, "consume_columns", consume_columns)
        monkeypatch.setattr(sink, "_flush", flush_in_background)
        thread = threading.Thread(target=run)
        thread.start()
        table = tmp_path / "clickstream_events"
        try:
            wait_until(lambda: sum(consumed) == RECORDS or failed, 60, "every record consumed")
        finally:
            sink.stop()
            thread.join(60)
    assert not thread.is_alive()
    assert not failed, f"the sink failed: {failed[0]!r}"
    assert sink.commits >= 5  # 4 full batches of 40 at least, then what was left when stopping
    assert overlapped, "the sink thread waited for each flush"
    assert all(name.startswith("sink-flush") for name in flush_threads), flush_threads
    landed = DeltaTable(str(table)).to_pyarrow_table(columns=["_partition", "_offset"])
    rows = sorted(zip(landed["_partition"].to_pylist(), landed["_offset"].to_pylist(), strict=True))
    assert rows == sorted((i % 2, i // 2) for i in range(RECORDS))
    # Each version's txn per partition: the commits went in offset order, to the last offsets.
    last = DeltaTable(str(table)).version()
    app = {p: txn.app_id("piped", TOPIC, p) for p in (0, 1)}
    versions = [DeltaTable(str(table), version=v) for v in range(last + 1)]
    seen = [[d.transaction_version(app[p]) for p in (0, 1)] for d in versions]
    for p in (0, 1):
        stored = [s[p] for s in seen if s[p] is not None]
        assert stored == sorted(stored) and stored[-1] == (102 if p == 0 else 101)
