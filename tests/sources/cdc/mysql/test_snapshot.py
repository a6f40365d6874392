"""`headwater cdc --snapshot` on MariaDB: existing rows as op "r", then the binlog after them."""

from __future__ import annotations

import threading

from tests.sources.cdc.conftest import MyDatabase
from tests.sources.cdc.support import count_at_least, read_changes, start_cdc

ROW = (
    "12345678901234.123456, '2024-02-29', '2024-01-01 10:00:00.5', '2024-01-01 10:00:00', "
    "'-25:00:01', '{\"a\": [1, 2]}', x'00ff', 0.25, 'b,a', NULL"
)


def test_snapshot_rows_read_like_binlog_rows_and_the_hand_off_is_exact(
    my_db: MyDatabase, broker, tmp_path
):
    my_db.execute(
        """CREATE TABLE t (
            id int PRIMARY KEY, amount decimal(20,6), day date, at timestamp(3) NULL,
            local datetime(3), took time, meta json, bin varbinary(8), ratio double,
            tags set('a','b'), note text)""",
        f"INSERT INTO t SELECT seq, {ROW} FROM seq_1_to_2000",
    )
    stop = threading.Event()

    def write() -> None:  # keeps committing while the snapshot is taken
        i = 2001
        while not stop.is_set() and i <= 4000:
            my_db.execute(f"INSERT INTO t VALUES ({i}, {ROW})")
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        cdc = start_cdc(tmp_path, my_db.url, broker.bootstrap, "--name", "mysnap", "--snapshot",
                        ready="snapshot_taken")  # fmt: skip
    finally:
        stop.set()
        writer.join(30)
    try:
        (written,) = my_db.execute("SELECT count(*) FROM t")[0]
        my_db.execute(
            f"INSERT INTO t VALUES (0, {ROW})", "UPDATE t SET note = 'later' WHERE id = 1"
        )
        topic = f"cdc.mysnap.{my_db.name}.t"
        changes = read_changes(broker.bootstrap, topic, count_at_least(written + 2))
    finally:
        cdc.stop()
    reads = [c for c in changes if c.value["op"] == "r"]
    assert len(reads) >= 2000 and reads == changes[: len(reads)]
    assert all(r.value["source"]["snapshot"] == "true" for r in reads)
    ids = [c.key["id"] for c in changes[:written]]
    assert sorted(ids) == list(range(1, written + 1))  # each row once: snapshot or binlog
    ops = [c.value["op"] for c in changes[len(reads) :]]
    assert ops == ["c"] * (written - len(reads)) + ["c", "u"]
    snapshot_row = dict(reads[0].value["after"], id=None)
    streamed_row = dict(changes[-2].value["after"], id=None)
    assert snapshot_row == streamed_row  # typed the same way, whichever path a row took
    assert snapshot_row["amount"] == "12345678901234.123456" and snapshot_row["tags"] == "a,b"
    assert changes[-1].value["after"]["note"] == "later"
