"""Table schemas as Arrow schemas, and how a batch's JSON shape fits one.

A lake table's schema is an Arrow schema whose field metadata says how JSON maps onto it:

- `headwater.json`: the column holds the value's JSON text, whatever its shape (free-form maps
  like `request.properties` and `traits`, and new fields that are objects, lists or of mixed type);
- `headwater.epoch_ms`: the JSON value is an integer of milliseconds since the epoch, stored as a
  UTC timestamp (Delta's `timestamp`).

Delta keeps field metadata in the table's schema, so a table read back knows its JSON columns.
The shape of a batch comes from DuckDB's `json_group_structure` (types `VARCHAR`, `BIGINT`,
`UBIGINT`, `DOUBLE`, `BOOLEAN`, `NULL`, `JSON` for mixed, objects and lists); `fit` compares it with
a schema: new keys become new columns, incompatible types are conflicts (rows to reject).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
import pyarrow as pa

JSON_META = b"headwater.json"
EPOCH_MS_META = b"headwater.epoch_ms"
TIMESTAMP = pa.timestamp("us", tz="UTC")

#: JSON scalar types (DuckDB's names) each column type accepts without a lossy cast. HUGEINT is
#: what `json_group_structure` makes of negative and positive integers together (DuckDB 2.0);
#: one outside int64 still fails `from_json`'s cast, and its batch the fast path.
_ACCEPTS: dict[pa.DataType, frozenset[str]] = {
    pa.string(): frozenset({"VARCHAR", "NULL"}),
    pa.int64(): frozenset({"BIGINT", "UBIGINT", "HUGEINT", "NULL"}),
    pa.float64(): frozenset({"DOUBLE", "BIGINT", "UBIGINT", "HUGEINT", "NULL"}),
    pa.bool_(): frozenset({"BOOLEAN", "NULL"}),
}
#: The column type a new scalar field gets.
_NEW_SCALAR: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "UBIGINT": pa.int64(),
    "HUGEINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
}
_DUCKDB_TYPE: dict[pa.DataType, str] = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
}


def json_field(name: str) -> pa.Field:
    """A column that keeps a JSON value's text as it was."""
    return pa.field(name, pa.string(), metadata={JSON_META: b"1"})


def epoch_ms_field(name: str, nullable: bool = True) -> pa.Field:
    """A UTC timestamp column read from integer epoch milliseconds."""
    return pa.field(name, TIMESTAMP, nullable=nullable, metadata={EPOCH_MS_META: b"1"})


def is_json(f: pa.Field) -> bool:
    return bool(f.metadata and f.metadata.get(JSON_META))


def is_epoch_ms(f: pa.Field) -> bool:
    return bool(f.metadata and f.metadata.get(EPOCH_MS_META))


def duckdb_structure(fields: pa.Schema | list[pa.Field]) -> dict[str, Any]:
    """The `from_json` structure that reads JSON objects into these fields."""
    out: dict[str, Any] = {}
    for f in fields:
        if is_json(f):
            out[f.name] = "JSON"
        elif is_epoch_ms(f):
            out[f.name] = "BIGINT"
        elif pa.types.is_struct(f.type):
            out[f.name] = duckdb_structure(list(f.type))
        elif f.type in _DUCKDB_TYPE:
            out[f.name] = _DUCKDB_TYPE[f.type]
    return out


@dataclass
class Fit:
    """How a batch's shape fits a schema: fields to add, and paths whose types conflict."""

    added: list[tuple[tuple[str, ...], pa.Field]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.added and not self.conflicts


def fit(structure: dict[str, Any], schema: pa.Schema, skip: frozenset[str] = frozenset()) -> Fit:
    """Compare a batch's `json_group_structure` with `schema` (top-level names in `skip` are
    filled by the sink itself and never read from JSON)."""
    result = Fit()
    _fit(structure, list(schema), (), result, skip)
    return result


def _fit(
    structure: dict[str, Any],
    fields: list[pa.Field],
    path: tuple[str, ...],
    result: Fit,
    skip: frozenset[str],
) -> None:
    known = {f.name: f for f in fields}
    for key, shape in structure.items():
        where = ".".join((*path, key))
        f = known.get(key)
        if f is None:
            if not path and key in skip:
                continue  # the sink's own columns
            new = _new_field(key, shape)
            if new is not None:
                result.added.append((path, new))
        elif is_json(f) or shape == "NULL":
            continue
        elif is_epoch_ms(f):
            if shape not in ("BIGINT", "UBIGINT", "HUGEINT"):
                result.conflicts.append(f"{where}: expected epoch milliseconds, got {_name(shape)}")
        elif pa.types.is_struct(f.type):
            if isinstance(shape, dict):
                _fit(shape, list(f.type), (*path, key), result, skip)
            else:
                result.conflicts.append(f"{where}: expected an object, got {_name(shape)}")
        elif not isinstance(shape, str) or shape not in _ACCEPTS.get(f.type, ()):
            result.conflicts.append(f"{where}: expected {_json_kind(f.type)}, got {_name(shape)}")


def _new_field(key: str, shape: Any) -> pa.Field | None:
    if shape == "NULL":
        return None  # nothing but nulls yet: the column waits for a first value
    if isinstance(shape, str) and shape in _NEW_SCALAR:
        return pa.field(key, _NEW_SCALAR[shape])
    return json_field(key)  # objects, lists and mixed types keep their JSON text


def _name(shape: Any) -> str:
    if isinstance(shape, dict):
        return "an object"
    if isinstance(shape, list):
        return "a list"
    return {
        "VARCHAR": "a string",
        "BIGINT": "an integer",
        "UBIGINT": "an integer",
        "HUGEINT": "an integer",
        "DOUBLE": "a number",
        "BOOLEAN": "a boolean",
        "JSON": "mixed types",
    }.get(shape, str(shape))


def _json_kind(t: pa.DataType) -> str:
    if t == pa.string():
        return "a string"
    if t == pa.int64():
        return "an integer"
    if t == pa.float64():
        return "a number"
    if t == pa.bool_():
        return "a boolean"
    return str(t)


#: A JSON integer that DuckDB reads as BIGINT without an overflow.
_INT64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
#: The msgspec type of a value each scalar column type accepts (or null): strict, so a string is
#: never taken for a number, nor a float for an integer; `float` accepts integers, as `_ACCEPTS`.
_STRICT: dict[pa.DataType, Any] = {
    pa.string(): str,
    pa.int64(): _INT64,
    pa.float64(): float,
    pa.bool_(): bool,
}


def exact_type(fields: list[pa.Field], name: str = "Record") -> type[msgspec.Struct]:
    """A msgspec type that decodes exactly the JSON objects whose shape fits `fields` with nothing
    to add and nothing in conflict (`fit(...).exact`): known keys only (an unknown key, even a
    sink-reserved one, fails), each value of its column's JSON type or null, objects of struct
    columns recursively the same, anything for JSON-text columns. It is the converter's cheap
    per-record check; whatever it refuses goes through `fit` and its reasons. Sound, not
    complete: it refuses a few values `fit` accepts (integers above 2**63-1, an unknown key whose
    values are all null), which then take the exact slow way."""
    spec: list[tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    for i, f in enumerate(fields):
        attr = f"f{i}"
        rename[attr] = f.name
        if is_json(f):
            spec.append((attr, msgspec.Raw, msgspec.field(default_factory=msgspec.Raw)))
            continue
        if is_epoch_ms(f):
            kind: Any = _INT64
        elif pa.types.is_struct(f.type):
            kind = exact_type(list(f.type), f"{name}_{i}")
        else:
            kind = _STRICT.get(f.type)  # other types: only null fits (`_ACCEPTS`)
        spec.append((attr, kind if kind is None else kind | None, None))
    return msgspec.defstruct(
        name, spec, rename=rename, forbid_unknown_fields=True, gc=False, kw_only=True
    )


def evolve(schema: pa.Schema, added: list[tuple[tuple[str, ...], pa.Field]]) -> pa.Schema:
    """`schema` with the new fields appended at their paths (nested ones inside their structs)."""
    fields = list(schema)
    for path, new in added:
        fields = _add(fields, path, new)
    return pa.schema(fields, metadata=schema.metadata)


def _add(fields: list[pa.Field], path: tuple[str, ...], new: pa.Field) -> list[pa.Field]:
    if not path:
        return [*fields, new] if all(f.name != new.name for f in fields) else fields
    out = []
    for f in fields:
        if f.name == path[0] and pa.types.is_struct(f.type):
            f = f.with_type(pa.struct(_add(list(f.type), path[1:], new)))
        out.append(f)
    return out
