"""An incremental snapshot survives its reader: progress rides in the stored positions, so a reader
killed mid-snapshot goes on from the chunk that was in flight (real MariaDB, real broker)."""

from __future__ import annotations

import orjson

from headwater.sources.cdc.config import CdcConfig, SourceUrl
from headwater.sources.cdc.incremental import EXECUTE, IncrementalSnapshots
from headwater.sources.cdc.mysql.chunks import MySqlChunks
from tests.sources.cdc.conftest import MyDatabase
from tests.sources.cdc.support import read_changes, start_cdc, stored_position

ROWS, CHUNK = 30_000, 10
SIGNAL = "CREATE TABLE headwater_signal (id varchar(64) PRIMARY KEY, type varchar(32), data text)"


def _reads(changes: list) -> list[int]:
    return [c.key["id"] for c in changes if c.value and c.value["op"] == "r"]


def test_a_killed_reader_goes_on_from_the_chunk_in_flight(my_db: MyDatabase, broker, tmp_path):
    my_db.execute("CREATE TABLE items (id int PRIMARY KEY, label varchar(20))", SIGNAL)
    my_db.server.execute(f"GRANT INSERT ON {my_db.name}.headwater_signal TO 'cdc'@'%'")
    for start in range(0, ROWS, 10_000):
        values = ", ".join(f"({i}, 'v{i}')" for i in range(start, start + 10_000))
        my_db.execute(f"INSERT INTO items VALUES {values}")
    args = (
        "--name", "incresume", "--table", f"{my_db.name}.items",
        "--signal-table", f"{my_db.name}.headwater_signal", "--chunk-rows", str(CHUNK),
    )  # fmt: skip
    topic = f"cdc.incresume.{my_db.name}.items"
    first = start_cdc(tmp_path, my_db.url, broker.bootstrap, *args, ready="binlog_started")
    try:
        request = orjson.dumps({"data-collections": [f"{my_db.name}.items"]}).decode()
        my_db.execute(f"INSERT INTO headwater_signal VALUES ('ask', '{EXECUTE}', '{request}')")
        read_changes(broker.bootstrap, topic, lambda got: len(_reads(got)) >= 500, 60)
    finally:
        first.kill()
    assert "incremental_snapshot_table_done" not in first.log_text(), "finished before the kill"
    progress = (stored_position(broker.bootstrap, "incresume") or {}).get("incremental")
    assert progress is not None and progress["table"] == f"{my_db.name}.items"
    assert progress["after"] and progress["after"][0] > 0  # a chunk boundary, not the start

    second = start_cdc(tmp_path, my_db.url, broker.bootstrap, *args, ready="binlog_started")
    try:
        second.wait_for_log("incremental_snapshot_resumed", 30)
        second.wait_for_log("incremental_snapshot_table_done", 120)
        changes = read_changes(
            broker.bootstrap, topic, lambda got: set(_reads(got)) == set(range(ROWS)), 60
        )
    finally:
        assert second.stop() == 0
    reads = _reads(changes)
    assert set(reads) == set(range(ROWS))  # nothing lost
    # Only what the kill left unacknowledged is read twice, not the table from its start.
    assert len(reads) - ROWS < ROWS // 5
    assert (stored_position(broker.bootstrap, "incresume") or {}).get("incremental") is None


def test_progress_reads_back_as_the_same_snapshot(my_db: MyDatabase) -> None:
    my_db.execute("CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)")
    my_db.execute(SIGNAL, "INSERT INTO a VALUES (1), (2), (3)", "INSERT INTO b VALUES (1)")
    my_db.server.execute(f"GRANT INSERT ON {my_db.name}.headwater_signal TO 'cdc'@'%'")
    config = CdcConfig(name="unit", url=SourceUrl.parse(my_db.url), chunk_rows=2,
                       signal_table=f"{my_db.name}.headwater_signal")  # fmt: skip
    emitted: list = []
    snapshots = IncrementalSnapshots(config, MySqlChunks(config), lambda *r: emitted.append(r))
    assert snapshots.progress() is None  # idle: positions carry nothing
    data = orjson.dumps({"data-collections": [f"{my_db.name}.a", f"{my_db.name}.b"]}).decode()
    snapshots.on_signal({"id": "ask", "type": EXECUTE, "data": data}, lambda i, d, t: {})
    progress = snapshots.progress()
    assert progress == {
        "incremental": {"table": f"{my_db.name}.a", "after": None, "pending": [f"{my_db.name}.b"]}
    }
    snapshots.close()

    stored = progress["incremental"]  # what a reader finds in the stored position
    again = IncrementalSnapshots(config, MySqlChunks(config), lambda *r: None, stored)
    assert again.progress() == {
        "incremental": {
            "table": None,
            "after": None,
            "pending": [f"{my_db.name}.a", f"{my_db.name}.b"],
        }
    }
    again.resume()  # starts the first chunk of `a` again
    assert again.progress() == progress
    again.close()
