"""MySQL/MariaDB chunk reads packed by the server: one CSV value per key sub-range, parsed by Arrow.

The text protocol hands a client one value per column per row, and mysqlclient makes a Python
`bytes` (and a tuple per row) of each: that, not the server, bounded snapshot reads. Here the server
formats each row as a CSV line and `GROUP_CONCAT(... SEPARATOR '\\n')` packs a key sub-range's rows
into one value, which `pyarrow.csv` parses in C++ with the catalog's types, off the GIL.

Format, per column: NULL is an empty unquoted field; text is always quoted with `"` doubled inside
(so `""` is the empty string, `"NULL"` the string NULL, and separators, quotes, newlines and
backslashes are data); binary is quoted `HEX()` decoded here; everything else is the server's text
form, as the text protocol sends it. A packed value is cut at `max_allowed_packet`: a value that
long is read again in smaller sub-ranges. A sub-range Arrow cannot parse (a zero date, say) is
read again through the text protocol, which gives the same values or the same error as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from headwater.logs import log_event
from headwater.sources.snapshot.csv_chunks import CsvParser, Widths
from headwater.sources.snapshot.plan import Column

log = logging.getLogger("headwater.snapshot.mysql")

MAX_PACKED_BYTES = 64 << 20


_BINARY_SOURCES = ("bit", "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob")


def packable(column: Column) -> bool:
    """BIT reads as raw bytes on the text protocol but as a number in HEX(); binary read as text
    (--as-text) must fail on bytes that are not UTF-8, not be converted: text path only."""
    source = column.source_type.lower()
    if source.startswith("bit"):
        return False
    return not (pa.types.is_string(column.arrow_type) and source.startswith(_BINARY_SOURCES))


def _field(column: Column, convert: bool) -> str:
    target = column.arrow_type
    if pa.types.is_binary(target):
        return f"IFNULL(CONCAT('\"', HEX({column.select}), '\"'), '')"
    if pa.types.is_string(target):
        text = column.select
        if convert:  # two collations in one CONCAT are an error ("illegal mix of collations")
            text = f"CONVERT({text} USING utf8mb4) COLLATE utf8mb4_bin"
        return f"IFNULL(CONCAT('\"', REPLACE({text}, '\"', '\"\"'), '\"'), '')"
    return f"IFNULL({column.select}, '')"


def packed_select(columns: list[Column], qualified: str, collations: set[str]) -> str:
    """COUNT(*) (to check the parse) and the sub-range's rows as CSV lines.

    `collations`: those of the text columns. With one, the server converts the result to the
    connection's utf8mb4 itself; with more, each value is converted (costs ~5% of the read).
    """
    row = "CONCAT_WS(',', " + ", ".join(_field(c, len(collations) > 1) for c in columns) + ")"
    return f"SELECT COUNT(*), GROUP_CONCAT({row} SEPARATOR '\\n') FROM {qualified}"


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
        self.widths = Widths()
        self.received: tuple[bytes, bytes | None] | None = None
        self.parser = CsvParser(columns, naive_timestamps=True)
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
                self.widths.shrink(stop - start)
                stop = self._send(start, end)
                continue
            self.widths.seen(stop - start, size)
            sub = f"{self.key} >= {start} AND {self.key} < {stop}"
            start = stop
            if start < end:  # the server packs the next sub-range while this one is parsed
                stop = self._send(start, end)
            if packed is None:
                continue
            table = self.parser.parse(packed, int(count)) if size < self.limit else None
            if table is not None:
                yield from table.to_batches()
                continue
            # Unparsable, or one row longer than a packet: the text protocol reads it (or
            # raises the error naming the value), once the query in flight is answered.
            if start < end:
                self.received = self._receive()
            reason = "unparsable" if size < self.limit else "row longer than max_allowed_packet"
            log_event(log, "text_protocol_fallback", table=self.text.table, at=sub, reason=reason)
            yield from self.text.read(sub)

    def _send(self, start: int, end: int) -> int:
        stop = self.widths.stop(start, end)
        self.conn.send_query(f"{self.select} WHERE {self.key} >= {start} AND {self.key} < {stop}")
        return stop

    def _receive(self) -> tuple[bytes, bytes | None]:
        if self.received is not None:
            received, self.received = self.received, None
            return received
        self.conn.read_query_result()
        row: tuple[bytes, bytes | None] = self.conn.store_result().fetch_row()[0]
        return row
