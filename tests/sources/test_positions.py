"""The position store against a real embedded broker: saved after acknowledgement, latest per
key wins, old CDC keys still read, typed errors, and big topics read without a total timeout."""

from __future__ import annotations

import threading

import orjson
import pytest

from headwater import transport
from headwater.contracts import positions as formats
from headwater.contracts.positions import VideoPosition
from headwater.contracts.topics import POSITIONS
from headwater.sources import positions
from headwater.sources.positions import CdcPositionWriter, PositionStoreError
from tests.conftest import BrokerProcess, free_port


@pytest.fixture
def conn(broker: BrokerProcess):
    conn = transport.connect(broker.bootstrap)
    with conn.admin() as admin:
        positions.ensure_topic(admin)
    yield conn
    conn.close()


def _save_cdc(conn: transport.Transport, source: str, *saved: dict) -> list[dict]:
    """Save each position as the CDC publisher does; returns those the broker acknowledged."""
    stored: list[dict] = []
    with conn.producer() as producer:
        writer = CdcPositionWriter(producer, source, "mysql")
        for position in saved:
            writer.save(position, stored.append)
        assert producer.flush(10) == 0
    return stored


def _produce(conn: transport.Transport, records: list[tuple[bytes, bytes | None]]) -> None:
    with conn.producer(transport.ProducerOptions(linger_ms=20)) as producer:
        producer.produce_batch(transport.ProducerRecord(POSITIONS, v, k) for k, v in records)
        assert producer.flush(60) == 0


def test_the_topic_is_one_compacted_partition_whose_segments_roll(conn):
    with conn.admin() as admin:
        described = admin.describe_topic(POSITIONS)
    assert described.partitions == 1
    assert described.config["cleanup.policy"] == "compact"
    assert described.config["segment.ms"] == positions.TOPIC_CONFIG["segment.ms"]


def test_a_cdc_position_round_trips_under_its_cdc_key(conn):
    stored = _save_cdc(conn, "shop", {"gtid": "0-1-5", "file": "bin.000001", "pos": 400})
    assert stored == [{"gtid": "0-1-5", "file": "bin.000001", "pos": 400}]
    assert positions.load_cdc(conn, "shop") == stored[0]
    assert formats.cdc_key("shop") in positions.read_latest(conn)
    assert positions.load_cdc(conn, "other") is None


def test_video_positions_round_trip_per_stream(conn):
    _produce(
        conn,
        [
            (rec[2], rec[1])
            for rec in (positions.video_record("cam1", 7), positions.video_record("cam2", 3))
        ],
    )
    assert positions.load_video(conn) == {"cam1": VideoPosition(7), "cam2": VideoPosition(3)}


def test_the_latest_save_of_a_key_wins_and_kinds_do_not_mix(conn):
    _save_cdc(conn, "shop", *({"lsn_int": i} for i in range(1, 6)))
    cam = [positions.video_record("cam1", n) for n in (4, 9, 12)]
    _produce(conn, [(rec[2], rec[1]) for rec in cam])
    _save_cdc(conn, "shop", {"lsn_int": 6})
    assert positions.load_cdc(conn, "shop") == {"lsn_int": 6}
    assert positions.load_video(conn) == {"cam1": VideoPosition(12)}


def test_a_position_stored_under_the_old_bare_key_is_still_loaded(conn):
    old = {"source": "shop", "connector": "mysql", "position": {"gtid": "0-1-9"}, "ts_ms": 1}
    _produce(conn, [(b"shop", orjson.dumps(old))])
    assert positions.load_cdc(conn, "shop") == {"gtid": "0-1-9"}

    _save_cdc(conn, "shop", {"gtid": "0-1-10"})  # written under cdc:shop from now on
    assert positions.load_cdc(conn, "shop") == {"gtid": "0-1-10"}


def test_a_tombstone_deletes_a_position(conn):
    _save_cdc(conn, "shop", {"lsn_int": 1})
    _produce(conn, [(formats.cdc_key("shop"), None), (formats.video_key("cam1"), None)])
    assert positions.load_cdc(conn, "shop") is None
    assert positions.load_video(conn) == {}


def test_a_record_that_is_not_a_position_is_a_typed_error_naming_its_key(conn):
    _produce(conn, [(formats.video_key("cam1"), b'{"stream": "cam1"}')])
    with pytest.raises(PositionStoreError, match=r"video:cam1.*next_sequence") as caught:
        positions.load_video(conn)
    assert not caught.value.retriable


def test_an_unreachable_broker_is_a_retriable_typed_error():
    conn = transport.connect(f"127.0.0.1:{free_port()}")
    try:
        with pytest.raises(PositionStoreError, match=r"_headwater\.positions") as caught:
            positions.load_cdc(conn, "shop", stall_timeout_s=1.0)
    finally:
        conn.close()
    assert caught.value.retriable
    assert isinstance(caught.value, transport.TransportError)  # callers' existing handlers


def test_a_broker_that_dies_mid_read_is_a_typed_error_once_the_read_stalls(
    broker: BrokerProcess, conn
):
    _produce(conn, [(formats.video_key(f"cam{i}"), b"{}") for i in range(10)])
    killed = threading.Event()
    make_consumer = conn.consumer

    def consumer_whose_broker_dies_on_assign(*args, **kwargs):
        consumer = make_consumer(*args, **kwargs)
        assign = consumer.assign

        def kill_then_assign(partitions):
            broker.kill()  # the end offsets are known; no record was read yet
            killed.set()
            assign(partitions)

        consumer.assign = kill_then_assign
        return consumer

    conn.consumer = consumer_whose_broker_dies_on_assign
    with pytest.raises(PositionStoreError, match="made no progress for 1s") as caught:
        positions.read_latest(conn, stall_timeout_s=1.0)
    assert killed.is_set() and caught.value.retriable


@pytest.mark.slow
def test_a_large_topic_loads_whole_without_a_total_timeout(conn):
    """A week of saves before compaction: 200k records, 1000 sources; each source's last wins."""
    sources, rounds = 1000, 200
    value = b'{"source":"s","connector":"mysql","position":{"lsn_int":%d,"pad":"%s"},"ts_ms":1}'
    records = [
        (formats.cdc_key(f"s{s}"), value % (r, b"x" * 60))
        for r in range(rounds)
        for s in range(sources)
    ]
    _produce(conn, records)
    latest = positions.read_latest(conn)
    assert len(latest) == sources
    assert positions.load_cdc(conn, "s123") == {"lsn_int": rounds - 1, "pad": "x" * 60}
