"""The MySQL reader's assembled envelopes are byte for byte `encode(envelope(...))`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from headwater.contracts.cdc import VERSION, encode, envelope
from headwater.sources.cdc.mysql.envelopes import NULL, source_prefix, value

ROW = {
    "id": 7,
    "amount": Decimal("-12.50"),
    "at": dt.datetime(2024, 1, 1, 10, 0, 0, 500000),
    "day": dt.date(2024, 2, 29),
    "took": dt.timedelta(hours=-25, seconds=-1),
    "bin": b"\x00\xff",
    "ratio": 0.1,
    "note": 'quote " and \\ and ✓ 🦊',
    "none": None,
}


def source(gtid: str | None, table: str, row: int) -> dict[str, Any]:
    """The reader's `source` block (MySqlReader._source)."""
    return {
        "version": VERSION,
        "connector": "mariadb",
        "name": "shop ✓",
        "ts_ms": 1_700_000_000_000,
        "snapshot": "false",
        "db": "app",
        "sequence": None,
        "table": table,
        "server_id": 1,
        "gtid": gtid,
        "file": "mysql-bin.000001",
        "pos": 123456,
        "row": row,
        "thread": None,
        "query": None,
    }


@pytest.mark.parametrize(
    "op,before,after",
    [("c", None, ROW), ("u", ROW, {**ROW, "note": None}), ("d", ROW, None), ("c", None, {})],
)
@pytest.mark.parametrize(
    "txn", [None, {"id": "0-1-5", "total_order": 3, "data_collection_order": 1}]
)
@pytest.mark.parametrize("gtid,table", [("0-1-5", "orders"), (None, 'we"ird ✓')])
def test_assembled_envelope_is_the_encoded_one(op, before, after, txn, gtid, table) -> None:
    prefix = source_prefix(source(gtid, table, 0))
    for row in (0, 1, 4095):
        expected = encode(
            envelope(op, before, after, source(gtid, table, row), 1_700_000_123_456, txn)
        )
        got = value(
            op.encode(),
            NULL if before is None else encode(before),
            NULL if after is None else encode(after),
            prefix,
            row,
            1_700_000_123_456,
            NULL if txn is None else encode(txn),
        )
        assert got == expected


def test_a_source_block_of_another_shape_is_refused() -> None:
    with pytest.raises(ValueError):
        source_prefix({**source(None, "t", 0), "query": "INSERT"})
