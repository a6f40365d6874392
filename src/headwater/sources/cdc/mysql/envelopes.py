"""Envelope bytes of a rows event's changes, assembled from parts encoded once per event.

The changes of one rows event share their whole `source` block but for `row` (the change's index
in the event), and their `ts_ms` (the time the event was read). So `source` is encoded once per
event up to its `row` value (`source_prefix`), and a change costs the encoding of its row images
and one bytes formatting; the bytes are exactly `encode(envelope(op, before, after, source, ts_ms,
transaction))`'s (tests/sources/cdc/mysql/test_envelopes.py checks).
"""

from __future__ import annotations

from typing import Any

from headwater.contracts.cdc import encode

_ROW_TAIL = b'"row":0,"thread":null,"query":null}'
_VALUE = (
    b'{"before":%b,"after":%b,"source":%b%d,"thread":null,"query":null},'
    b'"op":"%b","ts_ms":%d,"transaction":%b}'
)
NULL = b"null"


def source_prefix(source: dict[str, Any]) -> bytes:
    """`source` (whose last keys are `row`, `thread`, `query`, the latter two None) encoded up
    to the value of `row`."""
    encoded = encode({**source, "row": 0})
    if not encoded.endswith(_ROW_TAIL):
        raise ValueError("a MySQL source block ends with row, thread and query (None)")
    return encoded[: -len(_ROW_TAIL)] + b'"row":'


def value(
    op: bytes, before: bytes, after: bytes, prefix: bytes, row: int, ts_ms: int, txn: bytes
) -> bytes:
    """The envelope of one change: `before`/`after`/`txn` are encoded JSON (or `NULL`),
    `prefix` is `source_prefix(source)`."""
    return _VALUE % (before, after, prefix, row, op, ts_ms, txn)
