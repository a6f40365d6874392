"""The change event: Debezium's envelope, as every CDC reader writes and the lake sink reads it.

Topic `cdc.<source>.<db>.<table>` (`contracts.topics.cdc_table`). A value is the JSON object

    {"before", "after", "source", "op", "ts_ms", "transaction"}

(Debezium's `io.debezium.data.Envelope` without the JSON converter's schema part); `op` is c
(insert), u (update), d (delete), r (snapshot read) or t (truncate); `before` is the old row (d,
and u where the database sends it), `after` the new one (c, u, r). `source` is
`{version, connector, name, ts_ms, snapshot, db, schema, table, ...}` plus the position of the
change: `file`, `pos`, `row`, `gtid` (MySQL/MariaDB) or `lsn`, `txId` (PostgreSQL). A delete may be
followed by a tombstone (null value). A key is the JSON object of the primary-key columns,
`{"id": 1}`, in the table's column order, or null for a table without one.

Column values are typed as Debezium's JSON converter with `decimal.handling.mode=string`,
`binary.handling.mode=base64` and ISO-8601 strings for temporal types (docs/decisions.md,
"Change event values"):

    integers, floats, booleans   JSON numbers / booleans
    decimal / numeric            string, exact ("12.50")
    date / time / timestamp      ISO-8601 string; with a time zone normalised to UTC, suffix Z
    json / jsonb                 string holding the JSON text (Debezium's io.debezium.data.Json)
    binary / bytea / blob        base64 string
    NULL                         null
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypedDict

import orjson

from headwater import __version__

#: `source.version` of every change headwater writes.
VERSION = __version__

OP_CREATE, OP_UPDATE, OP_DELETE, OP_READ, OP_TRUNCATE = "c", "u", "d", "r", "t"
#: Ops that carry a row (`after`, or `before` for a delete).
OPS_WITH_ROW = frozenset((OP_CREATE, OP_UPDATE, OP_READ, OP_DELETE))
OPS = OPS_WITH_ROW | {OP_TRUNCATE}

BEFORE, AFTER, SOURCE, OP, TS_MS, TRANSACTION = (
    "before",
    "after",
    "source",
    "op",
    "ts_ms",
    "transaction",
)


class Envelope(TypedDict):
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    source: dict[str, Any]
    op: str
    ts_ms: int
    transaction: dict[str, Any] | None


def envelope(
    op: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    source: dict[str, Any],
    ts_ms: int,
    transaction: dict[str, Any] | None = None,
) -> Envelope:
    """One change, its fields in Debezium's order."""
    return {
        "before": before,
        "after": after,
        "source": source,
        "op": op,
        "ts_ms": ts_ms,
        "transaction": transaction,
    }


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode()
    if isinstance(value, dt.timedelta):
        return format_duration(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__} in a change event")


def format_duration(value: dt.timedelta) -> str:
    """A MySQL TIME value (may be negative or above 24 h) as `[-]HH:MM:SS[.ffffff]`."""
    micros = value // dt.timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    seconds, frac = divmod(micros, 1_000_000)
    hours, rest = divmod(seconds, 3600)
    text = f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{text}.{frac:06d}" if frac else text


def encode(value: Any) -> bytes:
    """JSON bytes of an envelope or key: datetimes as ISO-8601, Decimal exact, bytes base64."""
    return orjson.dumps(value, default=_default)


def encode_key(columns: Sequence[str], row: dict[str, Any] | None) -> bytes | None:
    """The record key: JSON of the primary-key columns, or None (no key, or no row)."""
    if not columns or row is None:
        return None
    return encode({name: row.get(name) for name in columns})
