"""Rows events decoded from their bytes by a function compiled once per table map.

mysql-replication decodes each value through a chain of type tests and small reads (~17 µs a
row here, the reader's main cost). Its table map is kept (column names, types, metadata: parsed
once per table-map event), but the rows are ours: for each column layout one function is
generated, with the columns' reads unrolled, so a row costs a null-bitmap test and a slice,
`struct` unpack or precompiled reader (`binvalues`) per column, and one dict.

Layout of the body after the post-header and the columns-present bitmap(s), per row (an update
has two images, before then after):

    null bitmap   (present columns + 7) / 8 bytes, bit i set = column i is NULL (no bytes)
    values        in column order; strings and blobs length-prefixed (1-4 bytes little-endian)

Values are the envelope's (see `binvalues`), equal to the library's after `values.convert`.
What this module does not decode exactly makes the caller use the library's `event.rows`:
a column type without a reader here (`Unsupported`: MySQL's binary JSON, the pre-5.6 temporal
types), a partial row image (`binlog_row_image` other than FULL), a partial JSON update, or a
body whose rows do not end exactly where the event ends.
"""

from __future__ import annotations

import base64
import codecs
import struct
from collections.abc import Callable, Sequence
from typing import Any

from pymysqlreplication.constants import BINLOG, FIELD_TYPE
from pymysqlreplication.row_event import RowsEvent

from headwater.sources.cdc.mysql import binvalues
from headwater.sources.cdc.mysql.binvalues import Fixed
from headwater.sources.cdc.mysql.values import convert, converters

Decode = Callable[[bytes, int, int], list[dict[str, Any]]]

_INTS = {
    FIELD_TYPE.TINY: ("b", "B"),
    FIELD_TYPE.SHORT: ("h", "H"),
    FIELD_TYPE.LONG: ("i", "I"),
    FIELD_TYPE.LONGLONG: ("q", "Q"),
    FIELD_TYPE.FLOAT: ("f", "f"),
    FIELD_TYPE.DOUBLE: ("d", "d"),
}
_UPDATES = frozenset({BINLOG.UPDATE_ROWS_EVENT_V1, BINLOG.UPDATE_ROWS_EVENT_V2})
_OTHERS = frozenset(
    {
        BINLOG.WRITE_ROWS_EVENT_V1,
        BINLOG.WRITE_ROWS_EVENT_V2,
        BINLOG.DELETE_ROWS_EVENT_V1,
        BINLOG.DELETE_ROWS_EVENT_V2,
    }
)


class Unsupported(Exception):
    """A column this module cannot decode exactly as mysql-replication does."""


def _field(column: Any) -> Fixed | tuple[int, str | None]:
    """A column's reader: `Fixed`, or (length-prefix size, text encoding or None for bytes)."""
    t = column.type
    if t in _INTS:
        fmt = "<" + _INTS[t][1 if column.unsigned else 0]
        return Fixed(struct.calcsize(fmt), struct.Struct(fmt).unpack_from, unpack=True)
    if t == FIELD_TYPE.INT24:
        signed = not column.unsigned
        return Fixed(3, lambda d, p: int.from_bytes(d[p : p + 3], "little", signed=signed))
    if t == FIELD_TYPE.YEAR:
        return Fixed(1, lambda data, pos: data[pos] + 1900)
    if t == FIELD_TYPE.NEWDECIMAL:
        return binvalues.new_decimal(column.precision, column.decimals)
    if t == FIELD_TYPE.DATETIME2:
        return binvalues.datetime2(column.fsp)
    if t == FIELD_TYPE.TIMESTAMP2:
        return binvalues.timestamp2(column.fsp)
    if t == FIELD_TYPE.TIME2:
        return binvalues.time2(column.fsp)
    if t == FIELD_TYPE.DATE:
        return Fixed(3, binvalues.date)
    if t == FIELD_TYPE.ENUM:
        return binvalues.enum(column.size, column.enum_values)
    if t == FIELD_TYPE.SET:
        return binvalues.set_(column.size, column.set_values)
    if t == FIELD_TYPE.BIT:
        return binvalues.bit(column.bits)
    if t in (FIELD_TYPE.VARCHAR, FIELD_TYPE.STRING):
        return (2 if column.max_length > 255 else 1), _encoding(column)
    if t == FIELD_TYPE.BLOB:
        return column.length_size, _encoding(column)
    if t == FIELD_TYPE.GEOMETRY:
        return column.length_size, None
    raise Unsupported(f"column {column.name!r}: type {t}")


def _encoding(column: Any) -> str | None:
    """The codec the library decodes a text column with; None: it keeps bytes (binary)."""
    name = column.character_set_name
    if name is None:
        return "utf-8"
    try:
        return codecs.lookup(RowsEvent.charset_to_encoding(name)).name
    except LookupError:
        return None


def _image(fields: Sequence[Fixed | tuple[int, str | None]], names: Sequence[str]) -> list[str]:
    """Source lines reading one row image into a dict `row`, from `data` at `pos`."""
    width = (len(fields) + 7) // 8
    nulls = "data[pos]" if width == 1 else f'int.from_bytes(data[pos : pos + {width}], "little")'
    lines = [f"nb = {nulls}", f"pos += {width}"]
    for i, field in enumerate(fields):
        lines += [f"if nb & {1 << i}:", f"    v{i} = None", "else:"]
        if isinstance(field, Fixed):
            index = "[0]" if field.unpack else ""
            lines += [f"    v{i} = _r{i}(data, pos){index}", f"    pos += {field.width}"]
            continue
        size, encoding = field
        if size == 1:
            lines.append("    n = data[pos]")
        elif size == 2:
            lines.append("    n = data[pos] | data[pos + 1] << 8")
        else:
            lines.append(f'    n = int.from_bytes(data[pos : pos + {size}], "little")')
        lines.append(f"    pos += n + {size}")
        if encoding is None:
            lines.append(f"    v{i} = _b64(data[pos - n : pos]).decode()")
        else:
            lines.append(f"    v{i} = data[pos - n : pos].decode({encoding!r})")
    items = ", ".join(f"{name!r}: v{i}" for i, name in enumerate(names))
    lines.append(f"append({{{items}}})")
    return lines


def compile_rows(columns: Sequence[Any], images: int) -> Decode:
    """The decoder of a rows event body for `columns` (a table map's), `images` per row (2 for
    updates): `decode(data, pos, end)` -> the row images in order; raises on a malformed body."""
    names = [c.name for c in columns]
    if not columns or not all(isinstance(n, str) and n for n in names):
        raise Unsupported("the table map has no column names (binlog_row_metadata=FULL)")
    fields = [_field(c) for c in columns]
    body = _image(fields, names) * images
    source = "\n".join(
        [
            "def decode(data, pos, end):",
            "    out = []",
            "    append = out.append",
            "    while pos < end:",
            *(" " * 8 + line for line in body),
            "    if pos != end:",
            "        raise ValueError(f'rows end at {pos}, the event at {end}')",
            "    return out",
        ]
    )
    namespace: dict[str, Any] = {"_b64": base64.b64encode}
    namespace.update({f"_r{i}": f.read for i, f in enumerate(fields) if isinstance(f, Fixed)})
    exec(compile(source, f"<rows decoder {len(columns)} columns>", "exec"), namespace)
    decode: Decode = namespace["decode"]
    return decode


def event_body(event: Any) -> tuple[bytes, int, int] | None:
    """The rows of a library rows event, as (packet bytes, start, end): its read position once
    the post-header and bitmaps are parsed (the library reads rows only when `.rows` is used).
    None when the packet wrapper holds pushed-back bytes (it never does before `.rows`)."""
    wrapper = event.packet
    if getattr(wrapper, "_BinLogPacketWrapper__data_buffer", b""):
        return None
    packet = wrapper.packet
    start = packet._position
    return packet._data, start, start + event.event_size - wrapper.read_bytes


def _full(bitmap: bytes, count: int) -> bool:
    every = (1 << count) - 1
    return int.from_bytes(bitmap, "little") & every == every


class RowsDecoders:
    """Compiled decoders by table map. A table map is re-sent before each statement's rows
    events, with new objects but the same content: decoders are found by the table map object
    first, then by its content, and compiled only for a layout not seen before."""

    def __init__(self) -> None:
        self._by_map: dict[int, tuple[Any, dict[int, Decode | None]]] = {}
        self._by_layout: dict[str, dict[int, Decode | None]] = {}

    def rows(self, event: Any) -> list[dict[str, Any]] | None:
        """The row images of `event` (an update's before and after alternate), or None when
        the library's `event.rows` must decode it."""
        images = 2 if event.event_type in _UPDATES else 1
        if images == 1 and event.event_type not in _OTHERS:
            return None  # e.g. MySQL's PARTIAL_UPDATE_ROWS_EVENT
        columns = event.columns
        count = len(columns)
        if event.number_of_columns != count or not _full(event.columns_present_bitmap, count):
            return None
        if images == 2 and not _full(event.columns_present_bitmap2, count):
            return None
        decode = self._decoder(event.table_id, columns, images)
        body = event_body(event) if decode is not None else None
        if decode is None or body is None:
            return None
        try:
            return decode(*body)
        except (IndexError, ValueError, struct.error, UnicodeDecodeError, OverflowError):
            return None  # the library's decoding raises its own error, or knows better

    def _decoder(self, table_id: int, columns: Any, images: int) -> Decode | None:
        cached = self._by_map.get(table_id)
        if cached is None or cached[0] is not columns:
            layout = repr([c.__dict__ for c in columns])
            cached = self._by_map[table_id] = (columns, self._by_layout.setdefault(layout, {}))
        per_images = cached[1]
        if images not in per_images:
            try:
                per_images[images] = compile_rows(columns, images)
            except Unsupported:
                per_images[images] = None
        return per_images[images]

    def images(self, event: Any) -> list[dict[str, Any]]:
        """`rows(event)`, or the library's decoding of what it cannot decode."""
        images = self.rows(event)
        return library_images(event) if images is None else images


def library_images(event: Any) -> list[dict[str, Any]]:
    """The row images as the library decodes them (`event.rows`), after our converters: the
    fallback, in `RowsDecoders.rows`' order."""
    fixes = converters(event.columns)
    images = []
    for row in event.rows:
        if "values" in row:
            images.append(convert(row["values"], fixes))
        else:
            images += (convert(row["before_values"], fixes), convert(row["after_values"], fixes))
    return images
