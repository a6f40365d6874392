"""Incremental snapshots on a real PostgreSQL while writes go on (DBLog's watermarks)."""

from __future__ import annotations

import orjson

from headwater.sources.cdc.config import CdcConfig, SourceUrl
from headwater.sources.cdc.incremental import CLOSE, EXECUTE, OPEN, IncrementalSnapshots
from headwater.sources.cdc.postgres.chunks import PostgresChunks
from tests.sources.cdc.conftest import PgDatabase
from tests.sources.cdc.mysql.test_incremental import ROWS, random_writer, replay
from tests.sources.cdc.support import read_changes, start_cdc

SIGNAL = "CREATE TABLE headwater_signal (id varchar(64) PRIMARY KEY, type varchar(32), data text)"


def test_chunks_between_watermarks_while_the_table_changes(pg_db: PgDatabase, broker, tmp_path):
    pg_db.execute(
        "CREATE TABLE items (id int PRIMARY KEY, label text, n int)",
        "ALTER TABLE items REPLICA IDENTITY FULL",
        SIGNAL,
        f"INSERT INTO items SELECT i, 'v' || i, 0 FROM generate_series(0, {ROWS - 1}) i",
    )
    cdc = start_cdc(
        tmp_path, pg_db.dsn, broker.bootstrap, "--name", "pinc", "--table", "public.items",
        "--signal-table", "public.headwater_signal", "--chunk-rows", "250",
        ready="replication_started",
    )  # fmt: skip
    thread, stop = random_writer(
        pg_db.execute,
        "INSERT INTO items VALUES ({i}, 'new{n}', {n}) ON CONFLICT DO NOTHING",
        seed=2,
    )
    try:
        thread.start()
        data = orjson.dumps({"data-collections": ["public.items"]}).decode()
        pg_db.execute(f"INSERT INTO headwater_signal VALUES ('ask', 'execute-snapshot', '{data}')")
        cdc.wait_for_log("incremental_snapshot_table_done", 120)
        stop.set()
        thread.join()
        final = {
            row[0]: {"id": row[0], "label": row[1], "n": row[2]}
            for row in pg_db.execute("SELECT id, label, n FROM items")
        }
        changes = read_changes(
            broker.bootstrap, "cdc.pinc.public.items", lambda got: replay(got) == final, 60
        )
    finally:
        stop.set()
        thread.join()
        assert cdc.stop() == 0
    reads = [c for c in changes if c.value and c.value["op"] == "r"]
    assert len(reads) > ROWS // 2
    assert {c.value["source"]["snapshot"] for c in reads} == {"incremental"}
    assert all(c.value["source"]["lsn"] for c in reads)
    # PostgreSQL's block: the database in `db`, the namespace in `schema` (as streamed changes).
    assert {
        (c.value["source"]["db"], c.value["source"]["schema"], c.value["source"]["table"])
        for c in reads
    } == {(pg_db.name, "public", "items")}


def test_a_change_inside_the_window_drops_its_chunk_row(pg_db: PgDatabase) -> None:
    pg_db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, v numeric(6,2), at timestamptz)",
        SIGNAL,
        "INSERT INTO t SELECT i, i + 0.5, '2024-01-01 10:00:00+02' FROM generate_series(0, 24) i",
    )
    config = CdcConfig(name="unit", url=SourceUrl.parse(pg_db.dsn),
                       signal_table="public.headwater_signal", chunk_rows=10)  # fmt: skip
    emitted: list[tuple[str, bytes | None, bytes | None]] = []
    snapshots = IncrementalSnapshots(
        config, PostgresChunks(config), lambda t, k, v: emitted.append((t, k, v))
    )
    source = {"lsn": 100}
    data = orjson.dumps({"data-collections": ["public.t"]}).decode()
    snapshots.on_signal({"id": "ask", "type": EXECUTE, "data": data}, lambda i, db, table: source)
    marks = pg_db.execute("SELECT id, type FROM headwater_signal WHERE type <> 'execute-snapshot'")
    low = next(i for i, kind in marks if kind == OPEN)
    snapshots.on_signal({"id": low, "type": OPEN}, lambda i, db, table: source)
    snapshots.on_change(b'{"id":5}')
    snapshots.on_signal({"id": low + "-close", "type": CLOSE}, lambda i, db, table: source)
    assert [orjson.loads(k)["id"] for _, k, _ in emitted] == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    first = orjson.loads(emitted[0][2])
    # Typed as wal2json types them: numeric exact as a string, timestamptz in UTC with a Z.
    assert first["after"] == {"id": 0, "v": "0.50", "at": "2024-01-01T08:00:00Z"}
    snapshots.close()
