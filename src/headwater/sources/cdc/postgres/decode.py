"""wal2json (format-version 2) messages to change records: sans-IO, bytes in, calls to a sink out.

The replication stream carries one JSON object per message, started with the options in
`WAL2JSON_OPTIONS`: `{"action": "B"|"I"|"U"|"D"|"T"|"C"|"M", ...}` with `xid`, `timestamp`, `lsn`,
and for row changes `schema`, `table`, `columns` / `identity` as `[{"name", "type", "value"}]` and
`pk` as `[{"name", "type"}]`. Values arrive as JSON: numbers for numeric types, strings in
PostgreSQL's text format for the rest. wal2json writes `numeric` values as bare JSON numbers of any
length, which orjson would round to a double: before parsing, one regex substitution quotes them
(`_quote_numerics`; a string value cannot fake the pattern, its quotes are escaped), so they arrive
as their exact text.

Hot path (one call per change, ~50,000/s): the envelope bytes are assembled from pieces rather than
encoded from a dict. The part of `source` fixed within a transaction and table is encoded once
(`_source_prefix`), so a change costs one JSON parse, one row dict, two small `orjson.dumps` (row,
key) and a join; the bytes are exactly `encode(envelope(...))`'s (tests/…/test_decode.py checks).

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

from headwater.contracts.cdc import VERSION, encode
from headwater.contracts.topics import cdc_schema, cdc_table, cdc_transaction
from headwater.logs import log_event
from headwater.sources.cdc.incremental import IncrementalSnapshots
from headwater.sources.cdc.postgres.ddl import SCHEMA as DDL_SCHEMA
from headwater.sources.cdc.postgres.ddl import TABLE as DDL_TABLE
from headwater.sources.cdc.postgres.ddl import schema_record
from headwater.sources.cdc.transactions import TransactionTracker

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


_UNSEEN = object()


def _row(columns: list[dict[str, Any]]) -> dict[str, Any]:
    row = {}
    by_type = _BY_TYPE
    for col in columns:
        value = col["value"]
        if value is not None:
            fn = by_type.get(col["type"], _UNSEEN)
            if fn is _UNSEEN:
                fn = converter(col["type"])
            if fn is not None:
                value = fn(value)  # type: ignore[operator]
        row[col["name"]] = value
    return row


#: A bare numeric value (not null, not already a string) and what precedes it.
_NUMERIC = re.compile(rb'("type":"numeric(?:\([0-9, ]*\))?","value":)([^,}"n][^,}]*)')


def _quote_numerics(payload: bytes) -> bytes:
    """Make each bare numeric value a JSON string of its exact text, before parsing."""
    parts = _NUMERIC.split(payload)  # text, (type, value, text)*: 3x faster than a sub template
    if len(parts) == 1:
        return payload
    if len(parts) == 4:
        return b'%b%b"%b"%b' % (parts[0], parts[1], parts[2], parts[3])
    parts[2::3] = [b'"%s"' % value for value in parts[2::3]]
    return b"".join(parts)


_NO_TRANSACTION = b'"transaction":null}'
_VALUE = b'{"before":%b,"after":%b%b%b,"xmin":null},"op":"%b","ts_ms":%d,"transaction":null}'


def _value(op: bytes, before: bytes, after: bytes, prefix: bytes, lsn: str | None) -> bytes:
    """`encode(envelope(op, before, after, source, now_ms))`, assembled from encoded parts;
    `prefix` is `,"source":{` … `"lsn":` (`Wal2JsonDecoder._table`)."""
    lsn_text = b"null" if lsn is None else b"%d" % str_to_lsn(lsn)
    return _VALUE % (before, after, prefix, lsn_text, op, int(time.time() * 1000))


def _untagged(value: bytes, msg: dict[str, Any]) -> bytes:
    return value


def _ts_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


class Wal2JsonDecoder:
    """Turns wal2json messages of one database into change records and commit positions."""

    def __init__(
        self,
        source: str,
        db: str,
        sink: ChangeSink,
        tombstones: bool = False,
        transactions: bool = False,
        incremental: IncrementalSnapshots | None = None,
        capture_ddl: bool = False,
        primary_key: Callable[[str, str], list[str]] | None = None,
    ) -> None:
        self.source = source
        #: The catalog's key columns, asked when wal2json leaves `pk` out (postgres/chunks.py).
        self.primary_key = primary_key
        self.db = db
        self.sink = sink
        self.tombstones = tombstones
        self._topics: dict[tuple[str, str], str] = {}
        self._warned_no_key: set[tuple[str, str]] = set()
        self._xid: int | None = None
        self._commit_ts_ms = 0
        self._prefixes: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.incremental = incremental
        self.capture_ddl = capture_ddl
        #: Tables whose rows are not changes to publish (DDL log, signal table): checked only
        #: when there are some, so the common path pays one truthiness test.
        self._special = capture_ddl or incremental is not None
        self.transactions = (
            TransactionTracker(cdc_transaction(source), sink.change) if transactions else None
        )

    def decode(self, payload: bytes, data_start: int) -> None:
        """Handle one message; `data_start` is the LSN psycopg2 reports for it."""
        msg = orjson.loads(_quote_numerics(payload))
        action = msg["action"]
        if action == "I":  # the common case first
            self._insert(msg)
        elif action == "B":
            self._xid = msg.get("xid")
            self._commit_ts_ms = _ts_ms(msg["timestamp"])
            self._prefixes.clear()
            if self.transactions is not None:
                self.transactions.start(str(self._xid), self._commit_ts_ms)
        elif action == "C":
            if self.transactions is not None:
                self.transactions.end()
            self.sink.commit(
                {"lsn": lsn_to_str(data_start), "lsn_int": data_start, "txId": msg.get("xid")}
            )
        elif action in ("U", "D", "T"):
            self._row_change(action, msg)

    def _table(self, msg: dict[str, Any]) -> tuple[str, bytes]:
        """The topic and the encoded `source` up to its `lsn` value, for this transaction."""
        schema, table = msg["schema"], msg["table"]
        try:
            return self._prefixes[(schema, table)]
        except KeyError:
            pass
        topic = self._topics.get((schema, table))
        if topic is None:
            topic = self._topics[(schema, table)] = cdc_table(self.source, schema, table)
        source = encode(self._source(schema, table))
        entry = self._prefixes[(schema, table)] = (topic, b',"source":' + source[:-1] + b',"lsn":')
        return entry

    def _source(
        self,
        schema: str | None,
        table: str | None,
        lsn: str | None = None,
        *,
        with_lsn: bool = False,
    ) -> dict[str, Any]:
        """The `source` block of this transaction's changes to `schema.table`; its `lsn` and
        `xmin` only `with_lsn` (the hot path appends them to the encoded prefix, `_VALUE`)."""
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
        }
        if with_lsn:
            source["lsn"] = None if lsn is None else str_to_lsn(lsn)
            source["xmin"] = None
        return source

    def _key(self, msg: dict[str, Any], row: dict[str, Any]) -> bytes | None:
        pk = msg.get("pk")
        if pk:
            return encode({c["name"]: row.get(c["name"]) for c in pk})
        names = self.primary_key(msg["schema"], msg["table"]) if self.primary_key else []
        if names:
            return encode({name: row.get(name) for name in names})
        self._warn_no_key(msg["schema"], msg["table"])
        return None

    def _insert(self, msg: dict[str, Any]) -> None:
        if self._special and self._special_row(msg):
            return
        try:
            topic, prefix = self._prefixes[(msg["schema"], msg["table"])]
        except KeyError:
            topic, prefix = self._table(msg)
        after = _row(msg["columns"])
        value = _value(b"c", b"null", encode(after), prefix, msg.get("lsn"))
        if self.transactions is not None:
            value = self._tagged(value, msg)
        self.sink.change(topic, self._key(msg, after), value)

    def _row_change(self, action: str, msg: dict[str, Any]) -> None:
        if self._special and self._special_row(msg):
            return
        topic, prefix = self._table(msg)
        tag = self._tagged if self.transactions is not None else _untagged
        if action == "T":
            value = tag(_value(b"t", b"null", b"null", prefix, msg.get("lsn")), msg)
            self.sink.change(topic, None, value)
            return
        if action == "U":
            after = _row(msg["columns"])
            identity = msg.get("identity")
            key = self._key(msg, after)
            if identity:
                old = _row(identity)
                old_key = self._key(msg, old)
                if old_key != key:  # the primary key changed: delete + create, as Debezium
                    lsn = msg.get("lsn")
                    self.sink.change(topic, old_key, tag(_value(b"d", encode(old), b"null",
                                                               prefix, lsn), msg))  # fmt: skip
                    if self.tombstones and old_key is not None:
                        self.sink.change(topic, old_key, None)
                    value = tag(_value(b"c", b"null", encode(after), prefix, lsn), msg)
                    self.sink.change(topic, key, value)
                    return
            full = identity and len(identity) == len(msg["columns"])
            before = encode(_row(identity)) if identity and full else b"null"
            value = tag(_value(b"u", before, encode(after), prefix, msg.get("lsn")), msg)
            self.sink.change(topic, key, value)
        else:
            old = _row(msg.get("identity", ()))
            key = self._key(msg, old)
            value = tag(_value(b"d", encode(old), b"null", prefix, msg.get("lsn")), msg)
            self.sink.change(topic, key, value)
            if self.tombstones and key is not None:
                self.sink.change(topic, key, None)

    def _special_row(self, msg: dict[str, Any]) -> bool:
        """True when `msg` is a row of the DDL log or the signal table (handled here, not a
        change); also lets incremental snapshots see the changes of their window's table."""
        if self.capture_ddl and (msg["schema"], msg["table"]) == (DDL_SCHEMA, DDL_TABLE):
            if msg["action"] == "I":
                self._ddl(_row(msg["columns"]), msg)
            return True
        return self.incremental is not None and self._incremental_sees(msg)

    def _ddl(self, row: dict[str, Any], msg: dict[str, Any]) -> None:
        source = self._source(row.get("schema_name"), None, msg.get("lsn"), with_lsn=True)
        self.sink.change(
            cdc_schema(self.source),
            encode({"databaseName": self.db}),
            encode(schema_record(row, source, self.db)),
        )

    def _incremental_sees(self, msg: dict[str, Any]) -> bool:
        """Feed a change to the incremental snapshots; True when it was a signal-table row (not
        a change to publish)."""
        incremental = self.incremental
        assert incremental is not None
        schema, table = msg["schema"], msg["table"]
        if incremental.is_signal(schema, table):
            if msg["action"] == "I":
                lsn = msg.get("lsn")

                def source(_i: int, namespace: str, name: str) -> dict[str, Any]:
                    return self._source(namespace, name, lsn, with_lsn=True)

                incremental.on_signal(_row(msg["columns"]), source)
            return True
        if incremental.window_table == (schema, table):
            for part in ("columns", "identity"):
                if msg.get(part):
                    incremental.on_change(self._key(msg, _row(msg[part])))
        return False

    def _tagged(self, value: bytes, msg: dict[str, Any]) -> bytes:
        """`value` with its `transaction` block (`--transactions`)."""
        assert self.transactions is not None
        block = self.transactions.tag(f"{msg['schema']}.{msg['table']}")
        return value[: -len(_NO_TRANSACTION)] + b'"transaction":' + encode(block) + b"}"

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
