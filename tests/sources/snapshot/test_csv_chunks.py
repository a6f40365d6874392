"""The shared CSV/text chunk parsing, without a database: PostgreSQL's COPY text format rules."""

from __future__ import annotations

import decimal

import pyarrow as pa
import pytest

from headwater.sources.snapshot.csv_chunks import CsvParser, plain_text
from headwater.sources.snapshot.plan import Column


@pytest.mark.parametrize(
    ("data", "plain"),
    [
        (b"1\ta\n2\t\\N\n", True),  # NULL is the only backslash
        (b"1\t\\N\\N\n", True),  # (not a value COPY writes; still no escape)
        (b'1\t"quoted", comma\n', True),
        (b"", True),
        (b"1\ttab\\there\n", False),
        (b"1\tback\\\\slash\n", False),
        (b"1\t\\\\N\n", False),  # the two characters \N, escaped: a value, not NULL
        (b"1\tline\\nbreak\n", False),
        (b"1\t\\r\n", False),
    ],
)
def test_plain_text_is_text_without_escapes(data: bytes, plain: bool) -> None:
    assert plain_text(data) is plain


COLUMNS = [
    Column("id", "bigint", pa.int64(), '"id"'),
    Column("s", "text", pa.string(), '"s"'),
    Column("d", "numeric", pa.decimal128(12, 2), '"d"'),
    Column("b", "bytea", pa.binary(), '"b"'),
    Column("at", "timestamp", pa.timestamp("us"), '"at"'),
]


def test_text_format_parses_nulls_empty_strings_and_quotes_as_values() -> None:
    data = (
        b'1\t"a", b\t12.50\t00ff\t2024-02-29 23:59:59.5\n'
        b"2\t\t\\N\t\t\\N\n"
        b"3\t\\N\t-0.01\t\\N\t1970-01-01 00:00:00\n"
        b"4\tNULL\t0\t22\t2000-01-01 00:00:00.000001\n"
    )
    assert plain_text(data)
    table = CsvParser(COLUMNS, text=True).parse(data, 4)
    assert table is not None
    assert table.column("s").to_pylist() == ['"a", b', "", None, "NULL"]
    assert table.column("d").to_pylist() == [
        decimal.Decimal("12.50"), None, decimal.Decimal("-0.01"), decimal.Decimal("0.00")
    ]  # fmt: skip
    assert table.column("b").to_pylist() == [b"\x00\xff", b"", None, b'"']
    assert table.column("at").null_count == 1


def test_text_format_refuses_a_row_count_it_does_not_see() -> None:
    parser = CsvParser(COLUMNS, text=True)
    assert parser.parse(b"1\ta\t1\t00\t2024-01-01 00:00:00\n", 2) is None
    assert parser.parse(b"1\ta\tNaN\t00\t2024-01-01 00:00:00\n", 1) is None  # as CSV would
