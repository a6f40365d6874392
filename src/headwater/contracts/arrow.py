"""Arrow schemas derived from the contracts' typed dicts, so a lake table and its producer agree.

Rules of the derivation (`fields_of`), in the lake's column conventions (`lake.schema`):

    str, Literal[...] of str       string
    EpochMs (int, epoch ms)        UTC timestamp, read from integer milliseconds
    int / float / bool             int64 / float64 / bool
    a TypedDict                    struct of its fields, recursively, in declaration order
    dict[str, Any] (JsonObject)    JSON text
    X | None                       as X

Every column is nullable, whatever the Python type says: the lake takes what old producers wrote
and the tables created so far were created so. A type the rules do not cover raises TypeError at
import, never a silently wrong column.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, is_typeddict

import pyarrow as pa

from headwater.contracts.clickstream import EPOCH_MS, ClickEvent
from headwater.lake.schema import epoch_ms_field, json_field

_SCALARS: dict[Any, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
}


def fields_of(typed_dict: type) -> list[pa.Field]:
    """The Arrow fields of a TypedDict (module docstring)."""
    hints = typing.get_type_hints(typed_dict, include_extras=True)
    return [_field(name, hint, f"{typed_dict.__name__}.{name}") for name, hint in hints.items()]


def _field(name: str, hint: Any, where: str) -> pa.Field:
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *marks = typing.get_args(hint)
        if EPOCH_MS in marks and base is int:
            return epoch_ms_field(name)
        return _field(name, base, where)
    if origin in (typing.Union, types.UnionType):
        present = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(present) != 1:
            raise TypeError(f"{where}: a union of several types has no one column type")
        return _field(name, present[0], where)
    if origin is Literal:
        values = typing.get_args(hint)
        if all(isinstance(v, str) for v in values):
            return pa.field(name, pa.string())
        raise TypeError(f"{where}: only string literals map to a column")
    if is_typeddict(hint):
        return pa.field(name, pa.struct(fields_of(hint)))
    if origin is dict or hint is dict:
        return json_field(name)
    if hint in _SCALARS:
        return pa.field(name, _SCALARS[hint])
    raise TypeError(f"{where}: no column type for {hint!r}")


#: The data columns of the lake table `clickstream_events`.
CLICK_EVENT_FIELDS: tuple[pa.Field, ...] = tuple(fields_of(ClickEvent))
