"""mongoexport output (Extended JSON v2, canonical or relaxed) → Arrow record batches.

Input: one document per line (mongoexport's default) or one JSON array (`--jsonArray`). Top-level
fields become columns; their type is decided over the whole file in a first pass, then a second
pass converts (files are read twice, memory stays bounded by the batch size):

    {"$oid": "..."}                          string (24 hex digits)
    {"$date": {"$numberLong": "ms"}} / ISO   timestamp[us, UTC]
    {"$numberInt"} / small integers          int32, widened to int64 or float64 when mixed
    {"$numberLong"}                          int64
    {"$numberDouble"} / numbers with .       float64 ("Infinity", "-Infinity", "NaN" too)
    {"$numberDecimal"}                       decimal128(38, largest scale seen)
    {"$binary": {"base64", "subType"}}       binary
    {"$uuid": "..."}                         string
    true/false                               bool
    strings                                  string
    nested documents and arrays              string holding their relaxed Extended JSON
    null / missing                           NULL

Other `$` types ($regex, $timestamp, $minKey, …) are reported with their line, as are fields whose
type differs between documents in ways that do not widen (e.g. a string here, a date there).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from headwater.sources.snapshot.errors import DumpParseError

BATCH_ROWS = 65_536
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_WIDEN = {
    frozenset({"int32", "int64"}): "int64",
    frozenset({"int32", "float64"}): "float64",
    frozenset({"int64", "float64"}): "float64",
    frozenset({"int32", "int64", "float64"}): "float64",
}
_ARROW = {
    "string": pa.string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "binary": pa.binary(),
    "json": pa.string(),
}


class _Bad(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _value(value: Any) -> tuple[str, Any]:
    """One Extended JSON value → (kind, Python value)."""
    if value is None:
        return "null", None
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, int):
        return ("int32" if -(2**31) <= value < 2**31 else "int64"), value
    if isinstance(value, float):
        return "float64", value
    if isinstance(value, str):
        return "string", value
    if isinstance(value, list):
        return "json", orjson.dumps(value).decode()
    if isinstance(value, dict):
        if len(value) >= 1 and all(k.startswith("$") for k in value):
            return _typed(value)
        return "json", orjson.dumps(value).decode()
    raise _Bad(f"unexpected JSON value {value!r}")


def _typed(value: dict[str, Any]) -> tuple[str, Any]:
    (key, inner), *rest = value.items()
    try:
        if key == "$oid" and not rest:
            return "string", str(inner)
        if key == "$numberInt":
            return "int32", int(inner)
        if key == "$numberLong":
            return "int64", int(inner)
        if key == "$numberDouble":
            return "float64", float(inner)
        if key == "$numberDecimal":
            number = Decimal(inner)
            return "decimal", number
        if key == "$date":
            return "timestamp", _date(inner)
        if key == "$binary":
            data = inner["base64"] if isinstance(inner, dict) else inner
            return "binary", base64.b64decode(data, validate=True)
        if key == "$uuid":
            return "string", str(inner)
    except (ValueError, TypeError, KeyError, InvalidOperation, binascii.Error) as exc:
        raise _Bad(f"invalid {key} value {inner!r}: {exc}") from None
    raise _Bad(f"unsupported Extended JSON type {key}")


def _date(inner: Any) -> dt.datetime:
    if isinstance(inner, dict):
        millis = int(inner["$numberLong"])
    elif isinstance(inner, int):
        millis = inner
    else:
        text = str(inner).replace("Z", "+00:00")
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
    return _EPOCH + dt.timedelta(milliseconds=millis)


def _documents(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, document) pairs, for line-per-document files and for a --jsonArray file."""
    with path.open("rb") as file:
        head = file.read(64).lstrip()
    if head.startswith(b"["):
        try:
            documents = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise DumpParseError(path, exc.lineno, f"not valid JSON: {exc.msg}") from None
        for index, document in enumerate(documents, 1):
            if not isinstance(document, dict):
                raise DumpParseError(path, 1, f"element {index} of the array is not a document")
            yield index, document
        return
    with path.open("rb") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                document = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise DumpParseError(path, number, f"not valid JSON: {exc.msg}") from None
            if not isinstance(document, dict):
                raise DumpParseError(path, number, "expected one JSON document per line")
            yield number, document


@dataclass
class _Field:
    kinds: dict[str, int] = field(default_factory=dict)  # kind → first line
    scale: int = 0

    def arrow_type(self, name: str, path: Path) -> tuple[str, pa.DataType]:
        kinds = set(self.kinds) - {"null"}
        if not kinds:
            return "string", pa.string()
        if len(kinds) == 1:
            kind = kinds.pop()
        elif frozenset(kinds) in _WIDEN:
            kind = _WIDEN[frozenset(kinds)]
        else:
            first, second = sorted(kinds, key=lambda k: self.kinds[k])[:2]
            raise DumpParseError(
                path,
                self.kinds[second],
                f"field {name!r} is {second} here but {first} on line {self.kinds[first]}",
                "make the field one type in the source collection, or export it with a "
                "projection that leaves it out",
            )
        if kind == "decimal":
            return kind, pa.decimal128(38, self.scale)
        return kind, _ARROW[kind]


def read_export(path: Path) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """First pass: the schema; the returned iterator is the second pass."""
    fields: dict[str, _Field] = {}
    for line, document in _documents(path):
        for name, value in document.items():
            try:
                kind, parsed = _value(value)
            except _Bad as exc:
                raise DumpParseError(path, line, f"field {name!r}: {exc.problem}") from None
            entry = fields.setdefault(name, _Field())
            entry.kinds.setdefault(kind, line)
            if kind == "decimal":
                exponent = parsed.as_tuple().exponent
                entry.scale = max(entry.scale, -exponent if isinstance(exponent, int) else 0)
    kinds = {name: f.arrow_type(name, path) for name, f in fields.items()}
    schema = pa.schema([pa.field(name, arrow) for name, (_, arrow) in kinds.items()])
    return schema, _batches(path, schema, kinds)


def _batches(
    path: Path, schema: pa.Schema, kinds: dict[str, tuple[str, pa.DataType]]
) -> Iterator[pa.RecordBatch]:
    names = schema.names
    columns: dict[str, list[Any]] = {name: [] for name in names}
    rows, first = 0, 0
    for line, document in _documents(path):
        first = first or line
        for name in names:
            raw = document.get(name)
            columns[name].append(None if raw is None else _value(raw)[1])
        rows += 1
        if rows == BATCH_ROWS:
            yield _batch(columns, schema, kinds, path, first)
            columns = {name: [] for name in names}
            rows, first = 0, 0
    if rows:
        yield _batch(columns, schema, kinds, path, first)


def _batch(
    columns: dict[str, list[Any]],
    schema: pa.Schema,
    kinds: dict[str, tuple[str, pa.DataType]],
    path: Path,
    first_line: int,
) -> pa.RecordBatch:
    arrays = []
    for name in schema.names:
        kind, arrow = kinds[name]
        values = columns[name]
        if kind == "float64":
            values = [None if v is None else float(v) for v in values]
        try:
            arrays.append(pa.array(values, arrow))
        except (pa.ArrowInvalid, OverflowError) as exc:
            raise DumpParseError(
                path,
                first_line,
                f"a value of field {name!r} from this line on does not fit {arrow}: {exc}",
            ) from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
