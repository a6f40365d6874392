"""`headwater cdc --snapshot`: existing rows as op "r", then the stream, with nothing in between
lost or doubled."""

from __future__ import annotations

import threading

from tests.sources.cdc.conftest import PgDatabase
from tests.sources.cdc.support import count_at_least, read_changes, start_cdc, stored_position

ROW = (
    "12345678901234.123456, '2024-02-29', '2024-01-01 10:00:00.5+02', '2024-01-01 10:00:00', "
    "'{\"a\": [1, 2]}', '\\x00ff', 0.25, true, NULL, 9223372036854775807"
)


def test_snapshot_rows_read_like_streamed_rows_and_the_hand_off_is_exact(
    pg_db: PgDatabase, broker_url, tmp_path
):
    pg_db.execute(
        """CREATE TABLE t (
            id int PRIMARY KEY, amount numeric(20,6), day date, at timestamptz, local timestamp,
            meta jsonb, bin bytea, ratio float8, ok boolean, note text, big bigint)""",
        f"INSERT INTO t SELECT i, {ROW} FROM generate_series(1, 2000) i",
    )
    stop = threading.Event()

    def write() -> None:  # keeps committing while the snapshot is taken
        i = 2001
        while not stop.is_set() and i <= 4000:
            pg_db.execute(f"INSERT INTO t VALUES ({i}, {ROW})")
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        cdc = start_cdc(tmp_path, pg_db.dsn, broker_url, "--name", "snap", "--snapshot",
                        ready="snapshot_taken")  # fmt: skip
    finally:
        stop.set()
        writer.join(30)
    try:
        (written,) = pg_db.execute("SELECT count(*) FROM t")[0]
        pg_db.execute(
            f"INSERT INTO t VALUES (0, {ROW})", "UPDATE t SET note = 'later' WHERE id = 1"
        )
        changes = read_changes(broker_url, "cdc.snap.public.t", count_at_least(written + 2))
    finally:
        cdc.stop()
    reads = [c for c in changes if c.value["op"] == "r"]
    assert len(reads) >= 2000 and reads == changes[: len(reads)]
    assert all(r.value["source"]["snapshot"] == "true" for r in reads)
    ids = [c.key["id"] for c in changes[:written]]
    assert sorted(ids) == list(range(1, written + 1))  # each row once: snapshot or stream
    ops = [c.value["op"] for c in changes[len(reads) :]]
    assert ops == ["c"] * (written - len(reads)) + ["c", "u"]
    snapshot_row = dict(reads[0].value["after"], id=None)
    streamed_row = dict(changes[-2].value["after"], id=None)
    assert snapshot_row == streamed_row  # typed the same way, whichever path a row took
    assert snapshot_row["amount"] == "12345678901234.123456"
    assert snapshot_row["at"] == "2024-01-01T08:00:00.5Z"
    assert snapshot_row["bin"] == "AP8=" and snapshot_row["ok"] is True
    assert snapshot_row["big"] == 2**63 - 1
    assert changes[-1].value["after"]["note"] == "later"


def test_a_snapshot_is_taken_once(pg_db: PgDatabase, broker_url, tmp_path):
    pg_db.execute("CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
    cdc = start_cdc(tmp_path, pg_db.dsn, broker_url, "--name", "once", "--snapshot",
                    ready="snapshot_taken")  # fmt: skip
    read_changes(broker_url, "cdc.once.public.t", count_at_least(2))
    assert cdc.stop() == 0
    assert stored_position(broker_url, "once") is not None
    cdc = start_cdc(tmp_path, pg_db.dsn, broker_url, "--name", "once", "--snapshot",
                    ready="replication_started")  # fmt: skip
    try:
        pg_db.execute("INSERT INTO t VALUES (3)")
        changes = read_changes(broker_url, "cdc.once.public.t", count_at_least(3))
    finally:
        cdc.stop()
    assert "snapshot_taken" not in cdc.log_text()
    assert [(c.value["op"], c.key["id"]) for c in changes] == [("r", 1), ("r", 2), ("c", 3)]
