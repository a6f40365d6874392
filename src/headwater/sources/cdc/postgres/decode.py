"""wal2json (format-version 2) messages to change records: sans-IO, bytes in, calls to a sink out.

The replication stream carries one JSON object per message, started with the options in
`WAL2JSON_OPTIONS`: `{"action": "B"|"I"|"U"|"D"|"T"|"C"|"M", ...}` with `xid`, `timestamp`, `lsn`,
and for row changes `schema`, `table`, `columns` / `identity` as `[{"name", "type", "value"}]` and
`pk` as `[{"name", "type"}]`. Values arrive as JSON: numbers for numeric types, strings in
PostgreSQL's text format for the rest. wal2json writes `numeric` values as bare JSON numbers of any
length, which orjson rounds to a double: their exact text is taken from the payload instead
(`_exact_numerics`; a string value cannot fake the pattern, its quotes are escaped).

`identity` holds the old key (REPLICA IDENTITY DEFAULT) or the whole old row (FULL); it becomes
`before` of deletes, and of updates only when it is the full row, as Debezium does.

The commit message's `data_start` is the commit record's end LSN: the position to resume after.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from headwater.logs import log_event
from headwater.sources.cdc.envelope import (
    OP_CREATE,
    OP_DELETE,
    OP_TRUNCATE,
    OP_UPDATE,
    VERSION,
    encode,
    encode_key,
    envelope,
    table_topic,
)

log = logging.getLogger("headwater.cdc.postgres")

WAL2JSON_OPTIONS = {
    "format-version": "2",
    "include-xids": "1",
    "include-timestamp": "1",
    "include-lsn": "1",
    "include-pk": "1",
    "include-types": "1",
    "include-transaction": "1",
}


class ChangeSink(Protocol):
    def change(self, topic: str, key: bytes | None, value: bytes | None) -> None: ...

    def commit(self, position: dict[str, Any]) -> None: ...


def lsn_to_str(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def str_to_lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def _timestamptz(value: str) -> str:
    if value.endswith("+00"):  # the session runs in UTC: the common case, no parsing
        return value[:-3].replace(" ", "T", 1) + "Z"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:  # infinity, -infinity, BC dates: kept as PostgreSQL wrote them
        return value
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _float(value: Any) -> Any:
    return float(value) if isinstance(value, str) else value


def _bytea(value: str) -> str:
    return base64.b64encode(bytes.fromhex(value[2:] if value.startswith("\\x") else value)).decode()


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "numeric": str,
    "double precision": _float,
    "real": _float,
    "bytea": _bytea,
    "timestamp with time zone": _timestamptz,
    "timestamp without time zone": lambda v: v.replace(" ", "T", 1),
}


_BY_TYPE: dict[str, Callable[[Any], Any] | None] = {}


def converter(pg_type: str) -> Callable[[Any], Any] | None:
    """The converter for a wal2json type name, which carries its modifier ("numeric(20,6)",
    "timestamp(3) with time zone"): looked up without it, cached by the full name."""
    try:
        return _BY_TYPE[pg_type]
    except KeyError:
        base = _TYPMOD.sub("", pg_type)
        fn = _BY_TYPE[pg_type] = CONVERTERS.get(base)
        return fn


_TYPMOD = re.compile(r"\([0-9, ]*\)")


def _row(columns: list[dict[str, Any]]) -> dict[str, Any]:
    row = {}
    for col in columns:
        value = col["value"]
        if value is not None:
            fn = converter(col["type"])
            if fn is not None:
                value = fn(value)
        row[col["name"]] = value
    return row


_NUMERIC = re.compile(rb'"type":"numeric(?:\([0-9, ]*\))?","value":([^,}]*)')


def _exact_numerics(msg: dict[str, Any], payload: bytes) -> None:
    """Replace numeric values (parsed as doubles) with their exact text, in payload order."""
    texts = iter(_NUMERIC.findall(payload))
    for section in ("columns", "identity"):
        for col in msg.get(section, ()):
            pg_type = col["type"]
            if pg_type.startswith("numeric") and not pg_type.endswith("]"):
                token = next(texts)
                if token == b"null":
                    col["value"] = None
                else:
                    col["value"] = token.strip(b'"').decode()


def _ts_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


class Wal2JsonDecoder:
    """Turns wal2json messages of one database into change records and commit positions."""

    def __init__(self, source: str, db: str, sink: ChangeSink, tombstones: bool = False) -> None:
        self.source = source
        self.db = db
        self.sink = sink
        self.tombstones = tombstones
        self._topics: dict[tuple[str, str], str] = {}
        self._warned_no_key: set[tuple[str, str]] = set()
        self._xid: int | None = None
        self._commit_ts_ms = 0

    def decode(self, payload: bytes, data_start: int) -> None:
        """Handle one message; `data_start` is the LSN psycopg2 reports for it."""
        msg = orjson.loads(payload)
        if b'"type":"numeric' in payload:
            _exact_numerics(msg, payload)
        action = msg["action"]
        if action == "B":
            self._xid = msg.get("xid")
            self._commit_ts_ms = _ts_ms(msg["timestamp"])
        elif action == "C":
            self.sink.commit(
                {"lsn": lsn_to_str(data_start), "lsn_int": data_start, "txId": msg.get("xid")}
            )
        elif action in ("I", "U", "D", "T"):
            self._row_change(action, msg)

    def _row_change(self, action: str, msg: dict[str, Any]) -> None:
        schema, table = msg["schema"], msg["table"]
        topic = self._topics.get((schema, table))
        if topic is None:
            topic = self._topics[(schema, table)] = table_topic(self.source, schema, table)
        source = {
            "version": VERSION,
            "connector": "postgresql",
            "name": self.source,
            "ts_ms": self._commit_ts_ms,
            "snapshot": "false",
            "db": self.db,
            "sequence": None,
            "schema": schema,
            "table": table,
            "txId": self._xid,
            "lsn": str_to_lsn(msg["lsn"]) if "lsn" in msg else None,
            "xmin": None,
        }
        now_ms = int(time.time() * 1000)
        if action == "T":
            self.sink.change(topic, None, encode(envelope(OP_TRUNCATE, None, None, source, now_ms)))
            return
        pk = [c["name"] for c in msg.get("pk", ())]
        if not pk:
            self._warn_no_key(schema, table)
        if action == "I":
            after = _row(msg["columns"])
            self.sink.change(
                topic,
                encode_key(pk, after),
                encode(envelope(OP_CREATE, None, after, source, now_ms)),
            )
        elif action == "U":
            after = _row(msg["columns"])
            identity = msg.get("identity")
            before = _row(identity) if identity and len(identity) == len(msg["columns"]) else None
            self.sink.change(
                topic,
                encode_key(pk, after),
                encode(envelope(OP_UPDATE, before, after, source, now_ms)),
            )
        else:
            before = _row(msg.get("identity", ()))
            key = encode_key(pk, before)
            self.sink.change(topic, key, encode(envelope(OP_DELETE, before, None, source, now_ms)))
            if self.tombstones and key is not None:
                self.sink.change(topic, key, None)

    def _warn_no_key(self, schema: str, table: str) -> None:
        if (schema, table) in self._warned_no_key:
            return
        self._warned_no_key.add((schema, table))
        log_event(
            log,
            "table_without_primary_key",
            logging.WARNING,
            table=f"{schema}.{table}",
            effect="records have no key; updates and deletes need REPLICA IDENTITY FULL",
            fix=f'ALTER TABLE "{schema}"."{table}" ADD PRIMARY KEY (...)',
        )
