"""MariaDB → `headwater cdc` → broker → `headwater sink` → the history and current-state tables."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
from deltalake import DeltaTable

import headwater.transport as hwt
from headwater.sink.runner import Sink, SinkConfig
from tests.sources.cdc.conftest import MyDatabase
from tests.sources.cdc.support import start_cdc
from tests.transport.support import FAST_GROUP, wait_until

GROUP = "lake"


def end_offset(bootstrap: str, topic: str) -> int:
    """The topic's end offset; -1 while the broker asked does not know the topic yet (a Kafka
    broker learns of a new topic from the controller a moment after it was created)."""
    with hwt.connect(bootstrap) as t, t.consumer("probe") as probe:
        try:
            return probe.watermarks(hwt.TopicPartition(topic, 0))[1]
        except hwt.TopicError:
            return -1


def landed(path: Path, topic: str, last: int) -> bool:
    try:
        return DeltaTable(str(path)).transaction_version(f"{GROUP}-{topic}-0") == last
    except Exception:  # not created yet
        return False


def query(path: Path, sql: str) -> list[tuple]:
    t = DeltaTable(str(path)).to_pyarrow_dataset()  # noqa: F841  (read by DuckDB)
    return duckdb.sql(sql).fetchall()


def test_snapshot_and_binlog_changes_land_as_versions_and_current_state(
    my_db: MyDatabase, broker_url: str, tmp_path: Path
) -> None:
    my_db.execute(
        "CREATE TABLE subs (id int PRIMARY KEY, plan varchar(20))",
        "INSERT INTO subs VALUES (1, 'free'), (3, 'free')",
    )
    cdc = start_cdc(tmp_path, my_db.url, broker_url, "--name", "lk", "--snapshot",
                    ready="binlog_started")  # fmt: skip
    topic = f"cdc.lk.{my_db.name}.subs"
    try:
        my_db.execute(
            # one transaction changing row 1 twice: two rows events, each change its own position
            "BEGIN",
            "UPDATE subs SET plan = 'pro' WHERE id = 1",
            "UPDATE subs SET plan = 'team' WHERE id = 1",
            "INSERT INTO subs VALUES (2, 'free')",
            "COMMIT",
            "DELETE FROM subs WHERE id = 3",
            "ALTER TABLE subs ADD COLUMN seats int",
            "UPDATE subs SET seats = 4 WHERE id = 2",
        )
        wait_until(lambda: end_offset(broker_url, topic) == 7, 60, "7 changes")
    finally:
        assert cdc.stop() == 0
    lake = tmp_path / "lake"
    config = SinkConfig(lake=lake, topics=(topic,), group=GROUP, max_age_s=0.2,
                        consumer=FAST_GROUP)  # fmt: skip
    history, current = lake / f"cdc_{my_db.name}_subs_history", lake / f"cdc_{my_db.name}_subs"
    with hwt.connect(broker_url) as transport:
        sink = Sink(transport, config)
        thread = threading.Thread(target=sink.run)
        thread.start()
        try:
            wait_until(lambda: landed(history, topic, 6) and landed(current, topic, 6), 60,
                       "both tables")  # fmt: skip
        finally:
            sink.stop()
            thread.join(60)
    versions = query(history, "SELECT id, plan, seats, _op, valid_to IS NULL, "
                              "valid_to = valid_from FROM t ORDER BY id, _position")  # fmt: skip
    # binlog times have one-second resolution: valid_from of changes may be equal
    assert [(v[0], v[1], v[2], v[3], v[4]) for v in versions] == [
        (1, "free", None, "r", False),
        (1, "pro", None, "u", False),
        (1, "team", None, "u", True),
        (2, "free", None, "c", False),
        (2, "free", 4, "u", True),
        (3, "free", None, "r", False),
        (3, "free", None, "d", False),
    ]
    assert versions[-1][5] is True  # the delete is a zero-length version
    positions = [p for (p,) in query(history, "SELECT _position FROM t WHERE _op <> 'r'")]
    assert len(set(positions)) == 5  # each change its own position, even within a transaction
    assert query(current, "SELECT id, plan, seats, _op FROM t ORDER BY id") == [
        (1, "team", None, "u"),
        (2, "free", 4, "u"),
    ]
    (open_versions,) = query(history, "SELECT count(*) FROM t WHERE valid_to IS NULL")[0]
    assert open_versions == 2
