"""PostgreSQL column types → Arrow, and the expression each column is read with.

Types Arrow and Delta have a form for are read natively; json, uuid, inet and the like as their
text form (their canonical form, no Arrow type of their own); enums as text; `numeric(p,s)` with
p <= 38 as decimal128 (numeric without a declared precision has no fixed scale: refused, with the
fix `--as-text`).
"""

from __future__ import annotations

import pyarrow as pa

from headwater.sources.snapshot.errors import UnsupportedTypeError
from headwater.sources.snapshot.plan import Column

_NATIVE: dict[str, pa.DataType] = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "oid": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "bool": pa.bool_(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    "bytea": pa.binary(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}
# Read as their text form: no Arrow type of their own in Delta, text is their canonical form.
_AS_TEXT = {"json", "jsonb", "uuid", "xml", "citext", "inet", "cidr", "macaddr"}


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column_for(
    table: str, name: str, typname: str, typtype: str, typmod: int, as_text: bool
) -> Column:
    """Map one PostgreSQL column to an Arrow type and the expression that reads it."""
    quoted = quote(name)
    if as_text or typname in _AS_TEXT or typtype == "e":
        return Column(name, typname, pa.string(), f"{quoted}::text")
    if typname in _NATIVE:
        return Column(name, typname, _NATIVE[typname], quoted)
    if typname == "numeric":
        if typmod < 4:
            raise UnsupportedTypeError(table, name, "numeric without precision and scale")
        precision, scale = (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
        if precision > 38:
            raise UnsupportedTypeError(table, name, f"numeric({precision},{scale})")
        select = quoted
        if precision <= 18:
            # The driver turns numeric into text slowly; the unscaled value as int8 is exact
            # (the column's scale is fixed) and becomes decimal128 without parsing.
            select = f"({quoted} * 1{'0' * scale})::int8" if scale else f"{quoted}::int8"
        return Column(
            name, f"numeric({precision},{scale})", pa.decimal128(precision, scale), select
        )
    raise UnsupportedTypeError(table, name, typname)
