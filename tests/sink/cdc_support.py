"""Change envelopes shaped exactly as `headwater cdc`'s MariaDB reader writes them, and an
in-process sink run until both CDC tables hold a topic's records."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb
from deltalake import DeltaTable

import headwater.transport as hwt
from headwater.contracts.cdc import VERSION, encode, encode_key, envelope
from headwater.sink.runner import Sink, SinkConfig

from ..transport.support import FAST_GROUP, wait_until

TOPIC = "cdc.shop.shop.subscriptions"
HISTORY = "cdc_shop_subscriptions_history"
CURRENT = "cdc_shop_subscriptions"
DEAD = "cdc_shop_subscriptions_history_dead_letters"
GROUP = "cdc-test"
#: 2023-11-14T22:13:20Z
T0_MS = 1_700_000_000_000


def source(pos: int, ts_ms: int, row: int = 0, snapshot: str = "false") -> dict[str, Any]:
    """`MariaDbReader._source` (sources/cdc/mysql/reader.py)."""
    return {
        "version": VERSION, "connector": "mariadb", "name": "shop", "ts_ms": ts_ms,
        "snapshot": snapshot, "db": "shop", "sequence": None, "table": "subscriptions",
        "server_id": 1, "gtid": f"0-1-{pos}", "file": "mysql-bin.000003", "pos": pos,
        "row": row, "thread": None, "query": None,
    }  # fmt: skip


def change(
    op: str, before: dict | None, after: dict | None, pos: int, ts_ms: int, row: int = 0
) -> tuple[bytes | None, bytes]:
    """(key, value) of one change of `subscriptions` (primary key `id`)."""
    snapshot = "true" if op == "r" else "false"
    value = encode(envelope(op, before, after, source(pos, ts_ms, row, snapshot), ts_ms + 5))
    key = encode_key(["id"], after if op != "d" else before) if op != "t" else None
    return key, value


def produce(bootstrap: str, records: list[tuple[bytes | None, bytes | None]]) -> None:
    with hwt.connect(bootstrap) as t, t.producer() as producer:
        for key, value in records:
            producer.produce(TOPIC, value, key=key, partition=0)
        assert producer.flush(30) == 0


def create_topic(bootstrap: str) -> None:
    with hwt.connect(bootstrap) as t:
        t.admin().create_topics([hwt.TopicSpec(TOPIC, 1)])


def txn_version(path: Path) -> int | None:
    try:
        return DeltaTable(str(path)).transaction_version(f"{GROUP}-{TOPIC}-0")
    except Exception:  # not created yet
        return None


def sink_until(bootstrap: str, lake: Path, last_offset: int, max_rows: int = 1000) -> None:
    """Run a sink until both tables hold offsets up to `last_offset`, then stop it."""
    config = SinkConfig(lake=lake, topics=(TOPIC,), group=GROUP, max_rows=max_rows,
                        max_age_s=0.2, consumer=FAST_GROUP)  # fmt: skip
    with hwt.connect(bootstrap) as transport:
        sink = Sink(transport, config)
        thread = threading.Thread(target=sink.run)
        thread.start()
        try:
            wait_until(
                lambda: (
                    txn_version(lake / HISTORY) == last_offset
                    and txn_version(lake / CURRENT) == last_offset
                ),
                60,
                f"offset {last_offset} in both tables",
            )
        finally:
            sink.stop()
            thread.join(60)
        assert not thread.is_alive()


def rows(lake: Path, table: str, sql: str = "SELECT * FROM t ORDER BY _key, _position") -> list:
    t = DeltaTable(str(lake / table)).to_pyarrow_dataset()  # noqa: F841  (read by DuckDB)
    return duckdb.sql(sql).fetchall()


def dicts(lake: Path, table: str, order: str = "_key, _position") -> list[dict[str, Any]]:
    t = DeltaTable(str(lake / table)).to_pyarrow_table()
    return t.sort_by([(c.strip(), "ascending") for c in order.split(",")]).to_pylist()
