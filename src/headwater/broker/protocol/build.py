"""Build kio response objects from plain values, whatever the API version.

Handlers describe a response once, as nested dicts holding the union of every version's fields
(`{"throttle_time_ms": 0, "topics": [{"name": ..., "partitions": [...]}]}`); `build` keeps only the
fields the target version's dataclass has, converts plain ints to the wrapper types kio writes
(error codes, millisecond durations, timestamps), and recurses into nested entities. One handler
then serves every advertised version, and a field a version lacks can never be sent by mistake.
"""

from __future__ import annotations

import dataclasses
import datetime
import types
import typing
from functools import cache
from typing import Any

from kio.schema.errors import ErrorCode

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)

#: Names handlers may use for fields kio spells differently.
_ALIASES = {"throttle_time_ms": "throttle_time"}


def _convert_scalar(kafka_type: str | None, value: Any) -> Any:
    if kafka_type == "error_code":
        return value if isinstance(value, ErrorCode) else ErrorCode(int(value))
    if kafka_type in ("timedelta_i32", "timedelta_i64"):
        if isinstance(value, datetime.timedelta):
            return value
        return datetime.timedelta(milliseconds=int(value))
    if kafka_type == "datetime_i64":
        if value is None or isinstance(value, datetime.datetime):
            return value
        return None if value < 0 else _EPOCH + datetime.timedelta(milliseconds=int(value))
    return value


@cache
def _plan(cls: type) -> tuple[tuple[str, str | None, type | None, bool, bool], ...]:
    """Per field: (name, kafka_type, nested entity type, is_tuple, has_default)."""
    hints = typing.get_type_hints(cls)
    plan = []
    for f in dataclasses.fields(cls):
        tp = hints.get(f.name)
        nested: type | None = None
        is_tuple = False
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if args else tp
            origin = typing.get_origin(tp)
        if origin is tuple:
            is_tuple = True
            inner = typing.get_args(tp)[0]
            if isinstance(inner, type) and dataclasses.is_dataclass(inner):
                nested = inner
        elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
            nested = tp
        has_default = (
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        )
        plan.append((f.name, f.metadata.get("kafka_type"), nested, is_tuple, has_default))
    return tuple(plan)


def build(cls: type, data: dict[str, Any]) -> Any:
    """Construct `cls` (a kio entity) from `data`, dropping fields `cls` lacks."""
    if _ALIASES.keys() & data.keys():
        data = {_ALIASES.get(k, k): v for k, v in data.items()}
    kwargs: dict[str, Any] = {}
    for name, kafka_type, nested, is_tuple, has_default in _plan(cls):
        if name not in data:
            if has_default:
                continue
            raise KeyError(f"{cls.__module__}.{cls.__qualname__} needs field {name!r}")
        value = data[name]
        if nested is not None and value is not None:
            if is_tuple:
                value = tuple(v if isinstance(v, nested) else build(nested, v) for v in value)
            elif not isinstance(value, nested):
                value = build(nested, value)
        elif is_tuple:
            value = tuple(value) if value is not None else None
        else:
            value = _convert_scalar(kafka_type, value)
        kwargs[name] = value
    return cls(**kwargs)
