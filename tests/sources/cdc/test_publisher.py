"""The publisher against a real broker: positions become durable only after acknowledgement."""

from __future__ import annotations

import time

from headwater import transport
from headwater.sources import positions
from headwater.sources.cdc import publisher as publisher_module
from headwater.sources.cdc.publisher import Publisher
from tests.kit.consuming import consume_until


def test_position_is_stored_only_after_the_broker_acknowledged_the_changes(broker_factory):
    broker = broker_factory()
    conn = transport.connect(broker.bootstrap)
    with conn.admin() as admin:
        positions.ensure_topic(admin)
        admin.create_topics([transport.TopicSpec("cdc.p.s.t")])
    durable: list[dict] = []
    producer = conn.producer()
    publisher = Publisher(producer, "p", "postgresql", durable.append, save_interval_s=0)
    try:
        broker.stop()
        publisher.change("cdc.p.s.t", b'{"id":1}', b"{}")
        publisher.commit({"lsn_int": 1})
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            publisher.poll(0.05)
        assert durable == [] and publisher.durable is None and publisher.unacknowledged == 1

        broker.start()
        assert publisher.flush(30.0)
        assert durable == [{"lsn_int": 1}] and publisher.unacknowledged == 0
        assert positions.load_cdc(conn, "p") == {"lsn_int": 1}
    finally:
        producer.close()
        conn.close()


def test_positions_follow_transactions_in_commit_order(broker_factory):
    broker = broker_factory()
    conn = transport.connect(broker.bootstrap)
    with conn.admin() as admin:
        positions.ensure_topic(admin)
    durable: list[dict] = []
    producer = conn.producer()
    publisher = Publisher(producer, "q", "mysql", durable.append, save_interval_s=0)
    try:
        for txn in range(1, 51):
            for row in range(10):
                publisher.change("cdc.q.db.t", str(row).encode(), b"{}")
            publisher.commit({"gtid": f"0-1-{txn}"})
            publisher.poll(0)
        publisher.commit({"gtid": "0-1-51"})  # a transaction with no captured change
        assert publisher.flush(30.0)
    finally:
        producer.close()
    seqs = [int(p["gtid"].rsplit("-", 1)[1]) for p in durable]
    assert seqs == sorted(seqs) and seqs[-1] == 51
    assert positions.load_cdc(conn, "q") == {"gtid": "0-1-51"}
    conn.close()


def test_a_transaction_larger_than_a_group_is_acknowledged_whole(broker_factory):
    broker = broker_factory()
    conn = transport.connect(broker.bootstrap)
    with conn.admin() as admin:
        positions.ensure_topic(admin)
        admin.create_topics([transport.TopicSpec("cdc.g.s.t")])
    durable: list[dict] = []
    producer = conn.producer()
    publisher = Publisher(producer, "g", "postgresql", durable.append, save_interval_s=0)
    count = 2 * publisher_module._GROUP_MAX + 7
    try:
        for row in range(count):
            publisher.change("cdc.g.s.t", str(row).encode(), b"{}")
        publisher.commit({"lsn_int": 9})
        assert publisher.flush(30.0)
    finally:
        producer.close()
    assert durable == [{"lsn_int": 9}] and publisher.changes == count
    with conn.consumer("check-g") as consumer:
        consumer.assign([transport.TopicPartition("cdc.g.s.t", 0, transport.EARLIEST)])
        got = consume_until(
            lambda _: consumer.consume(10_000, 0.2),
            lambda so_far: len(so_far) >= count,
            30,
            f"{count} changes",
        )
    assert [r.key for r in got] == [str(row).encode() for row in range(count)]
    conn.close()
