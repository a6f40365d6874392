"""MySQL/MariaDB chunk reads packed by the server: one CSV value per key sub-range, parsed by Arrow.

The text protocol hands a client one value per column per row, and mysqlclient makes a Python
`bytes` (and a tuple per row) of each: that, not the server, bounded snapshot reads. Here the server
formats each row as a CSV line and `GROUP_CONCAT(... SEPARATOR '\\n')` packs a key sub-range's rows
into one value, which `pyarrow.csv` parses in C++ with the catalog's types, off the GIL.

Format, per column: NULL is an empty unquoted field; text is always quoted with `"` doubled inside
(so `""` is the empty string, `"NULL"` the string NULL, and separators, quotes, newlines and
backslashes are data); binary is quoted `HEX()` decoded here; everything else is the server's text
form, as the text protocol sends it. A packed value is cut at `max_allowed_packet`: a value that
long is read again as two smaller sub-ranges. A sub-range Arrow cannot parse (a zero date, say) is
read again through the text protocol, which gives the same values or the same error as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from headwater.logs import log_event
from headwater.sources.snapshot.plan import Column

log = logging.getLogger("headwater.snapshot.mysql")

# Bytes of CSV asked for per query: big enough that a query's overhead does not count, small
# enough that the server formats the next sub-range while the last one is parsed.
TARGET_BYTES = 4 << 20
MAX_PACKED_BYTES = 64 << 20
_FIRST_WIDTH = 4096


def packable(column: Column) -> bool:
    """BIT reads as raw bytes on the text protocol but as a number in HEX(): text path only."""
    return not column.source_type.lower().startswith("bit")


def _field(column: Column) -> str:
    target = column.arrow_type
    if pa.types.is_binary(target):
        return f"IFNULL(CONCAT('\"', HEX({column.select}), '\"'), '')"
    if pa.types.is_string(target):
        text = f"CONVERT({column.select} USING utf8mb4) COLLATE utf8mb4_bin"
        return f"IFNULL(CONCAT('\"', REPLACE({text}, '\"', '\"\"'), '\"'), '')"
    return f"IFNULL({column.select}, '')"


def packed_select(columns: list[Column], qualified: str) -> str:
    """COUNT(*) (to check the parse) and the sub-range's rows as CSV lines."""
    row = "CONCAT_WS(',', " + ", ".join(_field(c) for c in columns) + ")"
    return f"SELECT COUNT(*), GROUP_CONCAT({row} SEPARATOR '\\n') FROM {qualified}"


def _csv_type(target: pa.DataType) -> pa.DataType:
    if pa.types.is_binary(target):
        return pa.string()
    if pa.types.is_timestamp(target) and target.tz is not None:
        return pa.timestamp(target.unit)
    return target


class PackedReader:
    """Reads a chunk [low, high) of an integer key as packed sub-ranges; else the text reader."""

    def __init__(
        self,
        conn: Any,
        text: Any,
        columns: list[Column],
        select: str,
        quoted_key: str,
        bounds: dict[str, tuple[int, int]],
        limit: int,
    ) -> None:
        self.conn, self.text, self.columns, self.select = conn, text, columns, select
        self.key, self.bounds, self.limit = quoted_key, bounds, limit
        self.width = _FIRST_WIDTH
        self.received: tuple[bytes, bytes | None] | None = None
        names = [c.name for c in columns]
        self.schema = pa.schema([pa.field(c.name, c.arrow_type) for c in columns])
        self.read_options = pcsv.ReadOptions(column_names=names, block_size=1 << 20)
        # A one-column row holding NULL is an empty line: keep empty lines. Parsing with
        # newlines inside values costs twice as much, so only values that hold one pay for it.
        self.parse_lines = pcsv.ParseOptions(ignore_empty_lines=False)
        self.parse_values = pcsv.ParseOptions(ignore_empty_lines=False, newlines_in_values=True)
        self.convert_options = pcsv.ConvertOptions(
            column_types={c.name: _csv_type(c.arrow_type) for c in columns},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        conn.query(f"SET SESSION group_concat_max_len = {limit}")

    def read(self, where: str) -> Iterator[pa.RecordBatch]:
        if where not in self.bounds:
            yield from self.text.read(where)
            return
        start, end = self.bounds[where]
        stop = self._send(start, end)
        while start < end:
            count, packed = self._receive()
            size = len(packed or b"")
            if size >= self.limit and stop - start > 1:  # cut at the packet size: ask for less
                self.width = max(1, (stop - start) // 4)
                stop = self._send(start, end)
                continue
            # Next width from this sub-range's bytes per key value (keys may be sparse).
            self.width = max(1, (stop - start) * TARGET_BYTES // size if size else self.width * 4)
            sub = f"{self.key} >= {start} AND {self.key} < {stop}"
            start = stop
            if start < end:  # the server packs the next sub-range while this one is parsed
                stop = self._send(start, end)
            if packed is None:
                continue
            batch = self._parse(packed, int(count)) if size < self.limit else None
            if batch is not None:
                yield batch
                continue
            # Unparsable, or one row longer than a packet: the text protocol reads it (or
            # raises the error naming the value), once the query in flight is answered.
            if start < end:
                self.received = self._receive()
            reason = "unparsable" if size < self.limit else "row longer than max_allowed_packet"
            log_event(log, "text_protocol_fallback", table=self.text.table, at=sub, reason=reason)
            yield from self.text.read(sub)

    def _send(self, start: int, end: int) -> int:
        stop = min(end, start + self.width)
        self.conn.send_query(f"{self.select} WHERE {self.key} >= {start} AND {self.key} < {stop}")
        return stop

    def _receive(self) -> tuple[bytes, bytes | None]:
        if self.received is not None:
            received, self.received = self.received, None
            return received
        self.conn.read_query_result()
        row: tuple[bytes, bytes | None] = self.conn.store_result().fetch_row()[0]
        return row

    def _parse(self, packed: bytes, count: int) -> pa.RecordBatch | None:
        """The sub-range as one batch, or None when Arrow cannot parse it."""
        lines_only = packed.count(b"\n") == count - 1 and b"\r" not in packed
        try:
            table = pcsv.read_csv(
                pa.py_buffer(packed),
                read_options=self.read_options,
                parse_options=self.parse_lines if lines_only else self.parse_values,
                convert_options=self.convert_options,
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != count:
            return None
        arrays = [
            _convert(table.column(i).combine_chunks(), column.arrow_type)
            for i, column in enumerate(self.columns)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def _convert(array: pa.Array, target: pa.DataType) -> pa.Array:
    if pa.types.is_binary(target):
        return _unhex(array)
    if array.type != target:
        return array.cast(target)  # naive timestamp → the same instant labelled UTC
    return array


def _unhex(array: pa.Array) -> pa.Array:
    """HEX() text → bytes: the whole values buffer decoded at once, offsets halved."""
    if array.offset:
        array = pa.concat_arrays([array])
    validity, offsets_buffer, data = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[: len(array) + 1]
    first, last = int(offsets[0]), int(offsets[-1])
    hexed = data[first:last].to_pybytes().decode("ascii") if data is not None else ""
    raw = bytes.fromhex(hexed)
    halved = pa.py_buffer(((offsets - first) // 2).astype(np.int32).tobytes())
    return pa.Array.from_buffers(
        pa.binary(), len(array), [validity, halved, pa.py_buffer(raw)], array.null_count
    )
