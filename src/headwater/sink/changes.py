"""Debezium-compatible change envelopes (`contracts.cdc`) read into the columns the CDC lake
tables need: key, op, source position, time and the row's own values.

Why a position string: the CDC readers are at least once, so a change may reach the topic twice
(at different offsets, with the same `source`). The sink drops a change whose position is not above
the highest one already landed for its key, and orders versions of a key by it. `position` makes
one string per change that sorts in source order (plain string comparison, also in SQL):

- MySQL/MariaDB (`file`, `pos`, `row`): `"{file sequence:010d}:{pos:020d}:{tier}:{row:010d}"`.
- PostgreSQL (`lsn`, an integer or `"X/Y"` text): `"{tier}:{lsn:020d}"`.

`tier` is 0 for snapshot reads (`op` r, `source.snapshot` true/"true"/"last") and 1 for the stream,
so the snapshot's version of a key sorts before the streamed changes after it. A MariaDB snapshot
row carries the binlog position the stream starts from, with `row` 0: the tier keeps it below a
change of the first streamed transaction. PostgreSQL puts the tier first: a transaction that was
running when the slot's snapshot was exported is streamed after the snapshot although its changes
may have lower LSNs than the snapshot's; per key, LSNs are in commit order (row locks).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from headwater.contracts.cdc import OPS

_DIGITS = re.compile(r"(\d+)\D*$")


class PositionError(ValueError):
    """A `source` without a position this sink can order."""


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or value is None:
        raise PositionError(f"source.{what} is {value!r}, expected an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise PositionError(f"source.{what} is {value!r}, expected an integer") from None
    if number < 0:
        raise PositionError(f"source.{what} is negative ({number})")
    return number


def _lsn(value: Any) -> int:
    if isinstance(value, str) and "/" in value:
        high, _, low = value.partition("/")
        try:
            return (int(high, 16) << 32) | int(low, 16)
        except ValueError:
            raise PositionError(f"source.lsn {value!r} is not X/Y hexadecimal") from None
    return _int(value, "lsn")


def is_snapshot(op: str, source: dict[str, Any]) -> bool:
    flag = source.get("snapshot")
    return op == "r" or flag is True or (isinstance(flag, str) and flag in ("true", "last"))


def position(op: str, source: dict[str, Any]) -> str:
    """The sortable position of a change (module docstring); raises `PositionError`."""
    tier = 0 if is_snapshot(op, source) else 1
    if source.get("file") is not None and source.get("pos") is not None:
        file = str(source["file"])
        match = _DIGITS.search(file)
        if match is None:
            raise PositionError(f"source.file {file!r} has no sequence number")
        seq = int(match.group(1))
        pos = _int(source["pos"], "pos")
        row = _int(source.get("row") or 0, "row")
        return f"{seq:010d}:{pos:020d}:{tier}:{row:010d}"
    if source.get("lsn") is not None:
        return f"{tier}:{_lsn(source['lsn']):020d}"
    raise PositionError("source has no position (file/pos or lsn)")


@dataclass
class Changes:
    """One batch's readable envelopes, in batch order. `index` points into the batch; `row` is
    the row's JSON (`after`, or `before` for deletes), `b"{}"` for truncates."""

    index: list[int] = field(default_factory=list)
    key: list[str | None] = field(default_factory=list)
    op: list[str] = field(default_factory=list)
    position: list[str] = field(default_factory=list)
    ts_ms: list[int] = field(default_factory=list)
    row: list[bytes] = field(default_factory=list)
    #: (batch index, reason) of envelopes that cannot be read.
    rejected: list[tuple[int, str]] = field(default_factory=list)
    #: batch indexes of null values (tombstones after deletes): expected, skipped.
    tombstones: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.index)


def read(values: Sequence[bytes | None], keys: Sequence[bytes | None]) -> Changes:
    """Parse a batch of envelopes (one orjson parse and one dump of the row per record)."""
    out = Changes()
    for i, value in enumerate(values):
        if value is None:
            out.tombstones.append(i)
            continue
        try:
            found = _one(value, keys[i])
        except (ValueError, TypeError, PositionError) as exc:
            out.rejected.append((i, str(exc)))
            continue
        for key, op, pos, ts_ms, row in found:
            out.index.append(i)
            out.key.append(key)
            out.op.append(op)
            out.position.append(pos)
            out.ts_ms.append(ts_ms)
            out.row.append(row)
    return out


_Change = tuple[str | None, str, str, int, bytes]


def _one(value: bytes, key: bytes | None) -> list[_Change]:
    try:
        env = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    if not isinstance(env, dict):
        raise ValueError(f"not a change envelope: a JSON {type(env).__name__}")
    op = env.get("op")
    if op not in OPS:
        raise ValueError(f"op is {op!r}, expected one of c, u, d, r, t")
    source = env.get("source")
    if not isinstance(source, dict):
        raise ValueError("source is missing or not an object")
    ts_ms = source.get("ts_ms") or env.get("ts_ms")
    if isinstance(ts_ms, bool) or not isinstance(ts_ms, int):
        raise ValueError(f"no time: source.ts_ms and ts_ms are {ts_ms!r}")
    pos = position(op, source)
    if op == "t":
        return [(None, op, pos, ts_ms, b"{}")]
    row = env.get("before") if op == "d" else env.get("after")
    if not isinstance(row, dict):
        which = "before" if op == "d" else "after"
        raise ValueError(f"op {op}: {which} is {type(row).__name__}, expected an object")
    if key is None:
        raise ValueError("no record key (a table without a primary key cannot be versioned)")
    try:
        key_text = key.decode()
    except UnicodeDecodeError:
        raise ValueError("record key is not UTF-8") from None
    change = (key_text, op, pos, ts_ms, orjson.dumps(row))
    before = env.get("before")
    if op == "u" and isinstance(before, dict):
        old = _old_key(key, before)
        if old is not None:  # the primary key changed: the old key's row is gone
            return [(old, "d", pos, ts_ms, orjson.dumps(before)), change]
    return [change]


def _old_key(key: bytes, before: dict[str, Any]) -> str | None:
    """The key of `before` when an update changed the primary key (Debezium would send a delete
    and a create; the readers send one update keyed by the new key), else None. Written as the
    readers write keys (`envelope.encode_key`: orjson, key columns in order)."""
    try:
        columns = orjson.loads(key)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(columns, dict) or not columns or not all(c in before for c in columns):
        return None
    old = {c: before[c] for c in columns}
    return None if old == columns else orjson.dumps(old).decode()
