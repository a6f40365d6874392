"""Incremental snapshots on a real MariaDB while writes go on (DBLog's watermarks): replaying the
topic gives exactly the table's final rows, and a snapshot row never overwrites a newer change."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import orjson

from tests.sources.cdc.conftest import MyDatabase
from tests.sources.cdc.support import read_changes, start_cdc

ROWS = 3000


def random_writer(
    execute: Callable[[str], object], insert_ignore: str, seed: int
) -> tuple[threading.Thread, threading.Event]:
    """A thread updating, deleting and inserting random rows of `items` until its event is set;
    `insert_ignore` is the dialect's insert-unless-present of (id, label, n), with {i} and {n}."""
    stop = threading.Event()

    def write() -> None:
        rng = random.Random(seed)
        n = 0
        while not stop.is_set():
            n += 1
            i = rng.randrange(ROWS + 500)
            kind = rng.random()
            if kind < 0.6:
                execute(f"UPDATE items SET n = {n}, label = 'w{n}' WHERE id = {i}")
            elif kind < 0.8:
                execute(f"DELETE FROM items WHERE id = {i}")
            else:
                execute(insert_ignore.format(i=i, n=n))

    return threading.Thread(target=write), stop


def replay(changes: list) -> dict[int, dict]:
    """The table as a consumer applying the topic in order sees it."""
    state: dict[int, dict] = {}
    for c in changes:
        if c.value is None:
            continue
        op = c.value["op"]
        if op == "d":
            state.pop(c.key["id"], None)
        elif op in ("c", "u", "r"):
            state[c.key["id"]] = c.value["after"]
    return state


def test_chunks_between_watermarks_while_the_table_changes(my_db: MyDatabase, broker, tmp_path):
    my_db.execute(
        "CREATE TABLE items (id int PRIMARY KEY, label varchar(20), n int)",
        "CREATE TABLE headwater_signal (id varchar(64) PRIMARY KEY, type varchar(32), data text)",
    )
    my_db.server.execute(f"GRANT INSERT ON {my_db.name}.headwater_signal TO 'cdc'@'%'")
    values = ", ".join(f"({i}, 'v{i}', 0)" for i in range(ROWS))
    my_db.execute(f"INSERT INTO items VALUES {values}")  # before the reader: only a snapshot has it
    cdc = start_cdc(
        tmp_path, my_db.url, broker.bootstrap, "--name", "inc", "--table", f"{my_db.name}.items",
        "--signal-table", f"{my_db.name}.headwater_signal", "--chunk-rows", "250",
        ready="binlog_started",
    )  # fmt: skip
    thread, stop = random_writer(
        my_db.execute, "INSERT IGNORE INTO items VALUES ({i}, 'new{n}', {n})", seed=1
    )
    topic = f"cdc.inc.{my_db.name}.items"
    try:
        thread.start()
        data = orjson.dumps({"data-collections": [f"{my_db.name}.items"]}).decode()
        my_db.execute(
            f"INSERT INTO headwater_signal VALUES ('ask-1', 'execute-snapshot', '{data}')"
        )
        cdc.wait_for_log("incremental_snapshot_table_done", 120)
        stop.set()
        thread.join()
        final = {
            row[0]: {"id": row[0], "label": row[1], "n": row[2]}
            for row in my_db.execute("SELECT id, label, n FROM items")
        }
        changes = read_changes(broker.bootstrap, topic, lambda got: replay(got) == final, 60)
    finally:
        stop.set()
        thread.join()
        assert cdc.stop() == 0
    reads = [c for c in changes if c.value and c.value["op"] == "r"]
    assert len(reads) > ROWS // 2  # most rows came from the snapshot, in chunks
    assert {c.value["source"]["snapshot"] for c in reads} == {"incremental"}
    assert {(c.value["source"]["db"], c.value["source"]["table"]) for c in reads} == {
        (my_db.name, "items")
    }
    assert replay(changes) == final
    signals = [c for c in changes if c.value and c.value["source"]["table"] == "headwater_signal"]
    assert signals == []  # the signal table is not captured


def test_bad_requests_are_refused_in_the_log_and_streaming_goes_on(my_db, broker, tmp_path):
    my_db.execute(
        "CREATE TABLE nokey (a int)",
        "CREATE TABLE keyed (a int PRIMARY KEY)",
        "CREATE TABLE headwater_signal (id varchar(64) PRIMARY KEY, type varchar(32), data text)",
    )
    cdc = start_cdc(
        tmp_path, my_db.url, broker.bootstrap, "--name", "inc2",
        "--signal-table", f"{my_db.name}.headwater_signal", ready="binlog_started",
    )  # fmt: skip
    try:
        data = orjson.dumps({"data-collections": [f"{my_db.name}.nokey"]}).decode()
        my_db.execute(f"INSERT INTO headwater_signal VALUES ('a', 'execute-snapshot', '{data}')")
        my_db.execute("INSERT INTO headwater_signal VALUES ('b', 'execute-snapshot', 'not json')")
        cdc.wait_for_log("snapshot_signal_ignored")
        assert "incremental_snapshot_skipped" in cdc.log_text()
        data = orjson.dumps({"data-collections": [f"{my_db.name}.keyed"]}).decode()
        my_db.execute(f"INSERT INTO headwater_signal VALUES ('c', 'execute-snapshot', '{data}')")
        cdc.wait_for_log("incremental_snapshot_failed")  # no INSERT on the signal table
        assert "GRANT SELECT ON" in cdc.log_text()
        assert cdc.proc.poll() is None  # still streaming
    finally:
        assert cdc.stop() == 0


def test_a_change_inside_the_window_drops_its_chunk_row(my_db: MyDatabase) -> None:
    """The DBLog rule, driven step by step: a key changed between the low and the high watermark
    is not emitted from the chunk (the stream's change is as new or newer)."""
    from headwater.sources.cdc.config import CdcConfig, SourceUrl
    from headwater.sources.cdc.incremental import CLOSE, EXECUTE, OPEN, IncrementalSnapshots
    from headwater.sources.cdc.mysql.chunks import MySqlChunks

    my_db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, v int)",
        "CREATE TABLE sig (id varchar(64) PRIMARY KEY, type varchar(32), data text)",
        "INSERT INTO t VALUES " + ", ".join(f"({i}, {i})" for i in range(25)),
    )
    my_db.server.execute(f"GRANT INSERT ON {my_db.name}.sig TO 'cdc'@'%'")
    config = CdcConfig(name="unit", url=SourceUrl.parse(my_db.url),
                       signal_table=f"{my_db.name}.sig", chunk_rows=10)  # fmt: skip
    emitted: list[tuple[str, bytes | None, bytes | None]] = []
    snapshots = IncrementalSnapshots(
        config, MySqlChunks(config), lambda t, k, v: emitted.append((t, k, v))
    )
    source = {"file": "mysql-bin.000001", "pos": 4, "row": 0}
    data = orjson.dumps({"data-collections": [f"{my_db.name}.t"]}).decode()
    snapshots.on_signal({"id": "ask", "type": EXECUTE, "data": data}, lambda i, db, table: source)
    # The watermarks the reader wrote, as the stream will deliver them.
    marks = my_db.execute("SELECT id, type FROM sig WHERE type <> 'execute-snapshot' ORDER BY type")
    low = next(i for i, kind in marks if kind == OPEN)
    assert {kind for _, kind in marks} == {OPEN, CLOSE}
    snapshots.on_change(b'{"id":3}')  # before the window opens: ignored
    snapshots.on_signal({"id": low, "type": OPEN}, lambda i, db, table: source)
    assert snapshots.window_table == (my_db.name, "t")
    snapshots.on_change(b'{"id":5}')  # inside the window: row 5 must not come from the chunk
    snapshots.on_signal({"id": low + "-close", "type": CLOSE}, lambda i, db, table: source)
    keys = [orjson.loads(k)["id"] for _, k, _ in emitted]
    assert keys == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    first = orjson.loads(emitted[0][2])
    assert first["op"] == "r" and first["after"] == {"id": 0, "v": 0}
    assert first["source"]["snapshot"] == "incremental"
    snapshots.close()
