"""CSV written by cqlsh `COPY <table> TO '<file>' WITH HEADER = true` → Arrow record batches.

cqlsh's defaults: `,` delimiter, `"` quote, `\\` escape, NULL as the empty field, booleans as
True/False, blobs as 0x-hex, timestamps as `2024-01-02 03:04:05.123000+0000`, collections and UDTs
as CQL literals. CSV carries no types, so each column's type is inferred over the whole file (first
pass), or given per column as a CQL type (`types={"price": "decimal"}`), which is how decimal and
varint columns stay exact:

    boolean → bool; int/bigint/smallint/tinyint/counter → int64 (int32/int16/int8 when given);
    float/double → float64 (float32 for float); decimal → decimal128(38, largest scale seen);
    varint → decimal128(38, 0); timestamp → timestamp[us, UTC]; date → date32; blob → binary;
    anything else (text, uuid, timeuuid, inet, time, duration, collections) → string.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa

from headwater.sources.snapshot.errors import DumpParseError

BATCH_ROWS = 65_536
_INT = re.compile(r"^[-+]?\d+$")
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(NaN|Infinity)$")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:?\d\d|Z)?$")
_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
_BLOB = re.compile(r"^0x[0-9a-fA-F]*$")
_CQL_TYPES: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "counter": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "blob": pa.binary(),
}
_INFER = [  # in order of preference; a column takes the first kind every value matches
    ("boolean", lambda v: v in ("True", "False")),
    ("bigint", lambda v: bool(_INT.match(v)) and -(2**63) <= int(v) < 2**63),
    ("double", lambda v: bool(_FLOAT.match(v))),
    ("timestamp", lambda v: bool(_TIMESTAMP.match(v))),
    ("date", lambda v: bool(_DATE.match(v))),
    ("blob", lambda v: bool(_BLOB.match(v))),
]


def _reader(file: Any) -> Any:
    return csv.reader(
        file, delimiter=",", quotechar='"', escapechar="\\", doublequote=True, strict=True
    )


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    with path.open(newline="", encoding="utf-8") as file:
        reader = _reader(file)
        try:
            for row in reader:
                yield reader.line_num, row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DumpParseError(path, reader.line_num + 1, f"not readable as CSV: {exc}") from None


def _infer(path: Path, types: dict[str, str]) -> tuple[list[str], list[str], list[int]]:
    """Header, CQL type per column, decimal scale per column."""
    rows = _rows(path)
    try:
        _, header = next(rows)
    except StopIteration:
        raise DumpParseError(path, 1, "the file is empty; expected a header line") from None
    unknown = set(types) - set(header)
    if unknown:
        raise DumpParseError(path, 1, f"--cql-type names columns not in the header: {unknown}")
    candidates = [[kind for kind, _ in _INFER] for _ in header]
    scales = [0] * len(header)
    for line, row in rows:
        if len(row) != len(header):
            raise DumpParseError(
                path,
                line,
                f"{len(row)} fields, the header has {len(header)}",
                "check the delimiter and quoting (cqlsh's defaults are , and \")",
            )
        for index, value in enumerate(row):
            if value == "":
                continue
            if "." in value and _FLOAT.match(value):
                scales[index] = max(scales[index], len(value.split(".")[1].split("e")[0]))
            kinds = candidates[index]
            if kinds:
                candidates[index] = [k for k in kinds if dict(_INFER)[k](value)]
    chosen = []
    for name, kinds in zip(header, candidates, strict=True):
        chosen.append(types.get(name) or (kinds[0] if kinds else "text"))
    return header, chosen, scales


def _arrow_type(cql_type: str, scale: int) -> pa.DataType:
    if cql_type == "decimal":
        return pa.decimal128(38, scale)
    if cql_type == "varint":
        return pa.decimal128(38, 0)
    return _CQL_TYPES.get(cql_type, pa.string())


def _convert(value: str, cql_type: str) -> Any:
    if value == "":
        return None
    if cql_type == "boolean":
        if value not in ("True", "False", "true", "false"):
            raise ValueError(f"{value!r} is not True or False")
        return value in ("True", "true")
    if cql_type in ("tinyint", "smallint", "int", "bigint", "counter"):
        return int(value)
    if cql_type in ("float", "double"):
        return float(value)
    if cql_type in ("decimal", "varint"):
        return Decimal(value)
    if cql_type == "timestamp":
        parsed = dt.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    if cql_type == "date":
        return dt.date.fromisoformat(value)
    if cql_type == "blob":
        if not _BLOB.match(value):
            raise ValueError(f"{value[:20]!r} is not a 0x-hex blob")
        return bytes.fromhex(value[2:])
    return value


def read_csv(
    path: Path, types: dict[str, str] | None = None
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """First pass: the schema; the returned iterator is the second pass."""
    header, cql_types, scales = _infer(path, types or {})
    schema = pa.schema(
        [pa.field(n, _arrow_type(t, s)) for n, t, s in zip(header, cql_types, scales, strict=True)]
    )
    return schema, _batches(path, schema, cql_types)


def _batches(path: Path, schema: pa.Schema, cql_types: list[str]) -> Iterator[pa.RecordBatch]:
    columns: list[list[Any]] = [[] for _ in cql_types]
    rows = _rows(path)
    next(rows)
    line = 1
    for line, row in rows:
        for index, (value, cql_type) in enumerate(zip(row, cql_types, strict=True)):
            try:
                columns[index].append(_convert(value, cql_type))
            except (ValueError, InvalidOperation) as exc:
                raise DumpParseError(
                    path, line, f"column {schema.names[index]!r} ({cql_type}): {exc}"
                ) from None
        if len(columns[0]) == BATCH_ROWS:
            yield _batch(columns, schema, path, line)
            columns = [[] for _ in cql_types]
    if columns and columns[0]:
        yield _batch(columns, schema, path, line)


def _batch(columns: list[list[Any]], schema: pa.Schema, path: Path, line: int) -> pa.RecordBatch:
    arrays = []
    for values, field in zip(columns, schema, strict=True):
        try:
            arrays.append(pa.array(values, field.type))
        except (pa.ArrowInvalid, OverflowError) as exc:
            raise DumpParseError(
                path,
                line,
                f"a value of column {field.name!r} in the rows up to this line does "
                f"not fit {field.type}: {exc}",
            ) from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
