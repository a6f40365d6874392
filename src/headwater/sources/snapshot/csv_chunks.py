"""Chunks read as CSV made by the database server and parsed by `pyarrow.csv`: the shared parts.

A driver that hands over one Python object per value (mysqlclient) or decodes slowly (the ADBC
PostgreSQL driver, ~0.5 s of CPU per 1M five-column rows) costs more than the server's own work.
Both servers can write CSV (MariaDB: CONCAT_WS inside GROUP_CONCAT; PostgreSQL: COPY ... (FORMAT
csv)), and `pyarrow.csv` parses it in C++ on several threads without the GIL, straight into the
catalog's Arrow types. The format rules each reader keeps: NULL is the only empty unquoted field,
an empty string is `""`, quotes inside quoted values are doubled, binary travels as hex text.

A chunk [start, stop) of an integer key is read in sub-ranges of about `TARGET_BYTES` of CSV each,
so memory stays bounded whatever the rows' width; widths follow the bytes per key value seen.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from headwater.sources.snapshot.plan import Column

TARGET_BYTES = 4 << 20
_FIRST_WIDTH = 4096


class Widths:
    """Sub-range widths (in key values or heap positions) aiming at TARGET_BYTES of CSV each
    (keys may be sparse, pages full or empty)."""

    def __init__(self, first: int = _FIRST_WIDTH) -> None:
        self.width = first

    def stop(self, start: int, end: int) -> int:
        return min(end, start + self.width)

    def seen(self, keys: int, size: int) -> None:
        self.width = max(1, keys * TARGET_BYTES // size if size else self.width * 4)

    def shrink(self, keys: int) -> None:
        self.width = max(1, keys // 4)


def _csv_type(target: pa.DataType, naive_timestamps: bool) -> pa.DataType:
    if pa.types.is_binary(target):
        return pa.string()
    if naive_timestamps and pa.types.is_timestamp(target) and target.tz is not None:
        return pa.timestamp(target.unit)
    return target


_ESCAPE = re.compile(rb"\\(?!N)")  # a backslash that does not start NULL's \N


def plain_text(data: bytes) -> bool:
    """True when PostgreSQL's COPY text format holds no escape but NULL's `\\N`: every value is
    then its own bytes, tab-separated, and parses with neither quoting nor escaping. (Any other
    backslash is an escape, and an escaped backslash is followed by another.) A memchr first:
    most sub-ranges have no backslash at all (3 ms per 100 MB, the search 35-55 ms)."""
    return data.find(b"\\") < 0 or _ESCAPE.search(data) is None


class CsvParser:
    """CSV bytes of a sub-range → one record batch of the columns' Arrow types, or None.

    `naive_timestamps`: the server writes tz-aware timestamps without an offset (already UTC).
    `text`: PostgreSQL's COPY text format instead (tabs, `\\N` for NULL), for text that passed
    `plain_text`: cheaper for the server to write than CSV (~10%) and as cheap to parse.
    None means Arrow could not parse the text exactly (a zero date, an infinite date, NaN in a
    numeric, a row count that does not match): the caller reads that sub-range the old way.
    """

    def __init__(
        self, columns: list[Column], *, naive_timestamps: bool = False, text: bool = False
    ) -> None:
        self.columns = columns
        self.text = text
        self.schema = pa.schema([pa.field(c.name, c.arrow_type) for c in columns])
        self.read_options = pcsv.ReadOptions(
            column_names=[c.name for c in columns], block_size=1 << 20
        )
        # Keep empty lines (a one-column row holding NULL is one).
        if text:
            self.lines = pcsv.ParseOptions(
                delimiter="\t", quote_char=False, escape_char=False, ignore_empty_lines=False
            )
        else:
            self.lines = pcsv.ParseOptions(ignore_empty_lines=False)
        self.values = pcsv.ParseOptions(ignore_empty_lines=False, newlines_in_values=True)
        self.convert_options = pcsv.ConvertOptions(
            column_types={c.name: _csv_type(c.arrow_type, naive_timestamps) for c in columns},
            null_values=["\\N"] if text else [""],
            true_values=["t"],
            false_values=["f"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )

    def parse(self, data: object, rows: int) -> pa.Table | None:
        """The parsed rows as a table of the columns' types (its chunks are the parse blocks, not
        concatenated: no copy), or None when Arrow cannot parse them exactly.

        Parsed first line by line: a newline or CR inside a quoted value can then only split a
        row in two, never join two, so the row count differs (or the parse fails) and the text
        is parsed again, quote-aware (twice the cost, paid only where such values are). The
        text format has no such second chance: its newlines inside values are escapes.
        """
        table = self._read(data, self.lines)
        if (table is None or table.num_rows != rows) and not self.text:
            table = self._read(data, self.values)
        if table is None or table.num_rows != rows:
            return None
        columns = [
            pa.chunked_array(
                [_convert(chunk, column.arrow_type) for chunk in table.column(i).chunks],
                column.arrow_type,
            )
            for i, column in enumerate(self.columns)
        ]
        return pa.Table.from_arrays(columns, schema=self.schema)

    def _read(self, data: object, parse_options: pcsv.ParseOptions) -> pa.Table | None:
        try:
            return pcsv.read_csv(
                pa.py_buffer(data),
                read_options=self.read_options,
                parse_options=parse_options,
                convert_options=self.convert_options,
            )
        except pa.ArrowException:
            # Invalid text, or (seen once in ~40 runs of 10M rows, not reproduced) pyarrow's
            # "Unknown error: a chunk failed converting for an unknown reason": either way the
            # caller reads the sub-range again the other way rather than failing the snapshot.
            return None


def _convert(array: pa.Array, target: pa.DataType) -> pa.Array:
    if pa.types.is_binary(target):
        return unhex(array)
    if array.type != target:
        return array.cast(target)  # naive timestamp → the same instant labelled UTC
    return array


def unhex(array: pa.Array) -> pa.Array:
    """Hex text → bytes: the whole values buffer decoded at once, offsets halved."""
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
