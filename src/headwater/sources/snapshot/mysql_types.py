"""MySQL/MariaDB column types → Arrow, and text values → Arrow arrays.

Both the live reader (text protocol, values as bytes) and the mysqldump import (values from SQL
literals) hand this module one list of raw values per column; Arrow's casts do the parsing, so no
Python object is made per value beyond the raw bytes. Types are read from `COLUMN_TYPE` as the
server (or a dump's CREATE TABLE) spells it: `decimal(12,2)`, `int(10) unsigned`, `enum('a','b')`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from headwater.sources.snapshot.errors import SnapshotError, UnsupportedTypeError
from headwater.sources.snapshot.plan import Column

_INTS = {
    "tinyint": (pa.int8(), pa.int16()),
    "smallint": (pa.int16(), pa.int32()),
    "mediumint": (pa.int32(), pa.int32()),
    "int": (pa.int32(), pa.int64()),
    "integer": (pa.int32(), pa.int64()),
    "bigint": (pa.int64(), pa.decimal128(20, 0)),
}
_STRINGS = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json"}
_BINARIES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit"}
_TYPE = re.compile(r"^\s*([a-z]+)\s*(?:\(([^)]*)\))?\s*(.*)$", re.IGNORECASE | re.DOTALL)


def quote(name: str) -> str:
    """A MySQL identifier, backquoted (a backquote inside doubled)."""
    return "`" + name.replace("`", "``") + "`"


def column_for(table: str, name: str, column_type: str, as_text: bool = False) -> Column:
    """Map one column, given its COLUMN_TYPE, to an Arrow type and the expression that reads it."""
    quoted = quote(name)
    match = _TYPE.match(column_type)
    if match is None:
        raise UnsupportedTypeError(table, name, column_type)
    base, args, rest = match.group(1).lower(), match.group(2) or "", match.group(3).lower()
    if as_text:
        return Column(name, column_type, pa.string(), quoted)
    if base in _INTS:
        signed, unsigned = _INTS[base]
        return Column(name, column_type, unsigned if "unsigned" in rest else signed, quoted)
    if base in ("decimal", "numeric", "dec", "fixed"):
        parts = [int(p) for p in args.split(",")] if args else [10, 0]
        precision, scale = parts[0], parts[1] if len(parts) > 1 else 0
        if precision > 38:
            raise UnsupportedTypeError(table, name, column_type)
        return Column(name, column_type, pa.decimal128(precision, scale), quoted)
    if base in ("float", "real") and not args:
        return Column(name, column_type, pa.float32(), quoted)
    if base in ("double", "float", "real"):
        return Column(name, column_type, pa.float64(), quoted)
    if base in ("bool", "boolean"):
        return Column(name, column_type, pa.int8(), quoted)
    if base == "year":
        return Column(name, column_type, pa.int16(), quoted)
    if base == "date":
        return Column(name, column_type, pa.date32(), quoted)
    if base == "datetime":
        return Column(name, column_type, pa.timestamp("us"), quoted)
    if base == "timestamp":
        # Stored in UTC; readers set time_zone='+00:00' so the text is UTC too.
        return Column(name, column_type, pa.timestamp("us", tz="UTC"), quoted)
    if base in _STRINGS or base in ("longtext",):
        return Column(name, column_type, pa.string(), quoted)
    if base in _BINARIES:
        return Column(name, column_type, pa.binary(), quoted)
    raise UnsupportedTypeError(table, name, column_type)


def to_array(values: Sequence[bytes | str | None], column: Column, table: str) -> pa.Array:
    """Raw text values of one column → an Arrow array of the column's type (Arrow parses)."""
    target = column.arrow_type
    raw = pa.array(values, pa.binary() if not values or isinstance(_first(values), bytes) else None)
    if pa.types.is_binary(target):
        return raw.cast(pa.binary()) if not pa.types.is_binary(raw.type) else raw
    try:
        text = raw.cast(pa.string()) if not pa.types.is_string(raw.type) else raw
    except pa.ArrowInvalid:
        raise SnapshotError(
            f"column {column.name!r} of {table} ({column.source_type}) holds bytes that are not "
            "UTF-8 text",
            f"read the table with a UTF-8 connection character set, or --exclude {column.name}",
        ) from None
    try:
        if pa.types.is_string(target):
            return text
        if pa.types.is_timestamp(target) and target.tz is not None:
            return pc.cast(text, pa.timestamp("us")).cast(target)
        return pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        bad = _first_bad(text, target)
        raise SnapshotError(
            f"column {column.name!r} of {table} ({column.source_type}) holds {bad!r}, "
            f"which is not a valid {target}: {exc}",
            f"read it as text with --as-text {column.name}",
        ) from None


def _first(values: Sequence[bytes | str | None]) -> bytes | str | None:
    return next((v for v in values if v is not None), None)


def _first_bad(text: pa.Array, target: pa.DataType) -> str:
    for value in text.to_pylist():
        try:
            pc.cast(pa.array([value]), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return str(value)
    return "?"
