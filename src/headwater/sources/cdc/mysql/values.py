"""MySQL/MariaDB row values as envelope values (see `envelope`'s table of types).

mysql-replication already decodes most types to Python (Decimal, date, datetime, timedelta,
bytes, str); what differs from Debezium's JSON is fixed here, per column type:
TIMESTAMP is UTC (the binlog stores epoch seconds) and gets a `Z`; SET becomes the comma-joined
string Debezium writes. The rest is encoded by `envelope.encode` (Decimal exact, bytes base64,
TIME as [-]HH:MM:SS[.ffffff], DATETIME as ISO-8601 without zone).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from pymysqlreplication.constants import FIELD_TYPE


def _utc(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat() + "Z"
    return value


def _set(value: Any) -> Any:
    return ",".join(sorted(value)) if isinstance(value, set | frozenset) else value


_BY_TYPE: dict[int, Callable[[Any], Any]] = {
    FIELD_TYPE.TIMESTAMP: _utc,
    FIELD_TYPE.TIMESTAMP2: _utc,
    FIELD_TYPE.SET: _set,
}

Converters = list[tuple[str, Callable[[Any], Any]]]


def converters(columns: Sequence[Any]) -> Converters:
    """(column name, function) for the columns of a table map whose values need fixing."""
    return [(c.name, _BY_TYPE[c.type]) for c in columns if c.type in _BY_TYPE]


def convert(row: dict[str, Any], fixes: Converters) -> dict[str, Any]:
    for name, fn in fixes:
        value = row.get(name)
        if value is not None:
            row[name] = fn(value)
    return row
