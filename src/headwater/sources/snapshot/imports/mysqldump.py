"""mysqldump / mariadb-dump files → Arrow record batches, table by table.

The file is cut into statements (dump_statements: at the delimiter outside quotes, position lines
read on the way); each statement is tokenized (sql_tokens) and handled:

- `CREATE TABLE`: column names and types (the dump's own types, mapped like a live read,
  see mysql_types);
- `INSERT INTO ... VALUES (...), (...)`: rows, with or without a column list;
- the header comment `-- Host: ...  Database: app` names the database; `CHANGE MASTER TO
  MASTER_LOG_FILE=..., MASTER_LOG_POS=...` (--master-data, even commented out) and
  `SET GLOBAL gtid_slave_pos='...'` (MariaDB --gtid) give the position the dump is consistent with;
- everything else (SET, LOCK TABLES, DROP, views, triggers) is skipped.

Anything unreadable raises DumpParseError with the line it starts on; nothing else escapes.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from headwater.sources.snapshot.errors import DumpParseError, SnapshotError, UnsupportedTypeError
from headwater.sources.snapshot.imports.dump_statements import (
    DumpInfo,
    Statement,
    read_position,
    scan_ends,
    statements,
)
from headwater.sources.snapshot.imports.sql_tokens import (
    Token,
    bits_value,
    hex_value,
    identifier,
    line_of,
    string_value,
    tokens,
    unescape,
)
from headwater.sources.snapshot.mysql_types import column_for, to_array
from headwater.sources.snapshot.plan import Column

BATCH_ROWS = 65_536
_NOT_COLUMNS = {"PRIMARY", "KEY", "UNIQUE", "INDEX", "CONSTRAINT", "FULLTEXT", "SPATIAL", "CHECK"}
_TYPE_SUFFIXES = {"UNSIGNED", "SIGNED", "ZEROFILL"}


@dataclass
class DumpTable:
    """One table of the dump: its columns and, while it is being read, its batches."""

    name: str
    columns: list[Column]


class _LazyTokens:
    """The statement's tokens, scanned only as far as they are asked for: INSERTs read their
    rows with the fast scanner below and need the tokens of their head only."""

    def __init__(self, text: bytes) -> None:
        self.scanned: list[Token] = []
        self.rest = tokens(text)

    def get(self, index: int) -> Token | None:
        while index >= len(self.scanned):
            token = next(self.rest, None)
            if token is None:
                return None
            self.scanned.append(token)
        return self.scanned[index]


# One value and what follows it, for the rows of an INSERT. Only the forms mysqldump writes;
# anything else sends the statement to the token parser, which names the line of the problem.
_FAST_VALUE = re.compile(
    rb"""\s*(?:
        '((?:[^'\\]|\\.|'')*)'                              # 1 string
      | (NULL)                                                # 2
      | ([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)           # 3 number
      | 0x([0-9A-Fa-f]+)                                      # 4 hex
      | _[A-Za-z0-9]+\s*'((?:[^'\\]|\\.|'')*)'                # 5 introducer + string
    )\s*([,)])""",
    re.VERBOSE | re.DOTALL,
)
_ROW_OPEN = re.compile(rb"\s*\(")
_ROW_NEXT = re.compile(rb"\s*(,|$)")


def _fast_rows(text: bytes, start: int) -> list[tuple[list[object], Token]] | None:
    """All rows from `start` (just after VALUES), or None if anything is unusual."""
    rows = []
    at = start
    while True:
        opened = _ROW_OPEN.match(text, at)
        if opened is None:
            return None
        opening = Token("PUNCT", b"(", opened.end() - 1)
        at = opened.end()
        row: list[object] = []
        while True:
            match = _FAST_VALUE.match(text, at)
            if match is None:
                return None
            string, null, number, hexdigits, introduced, separator = match.groups()
            if string is not None:
                row.append(unescape(string))
            elif number is not None:
                row.append(number)
            elif null is not None:
                row.append(None)
            elif hexdigits is not None:
                row.append(_Raw(bytes.fromhex("0" * (len(hexdigits) % 2) + hexdigits.decode())))
            else:
                row.append(unescape(introduced))
            at = match.end()
            if separator == b")":
                break
        rows.append((row, opening))
        following = _ROW_NEXT.match(text, at)
        if following is None:
            return None
        if not following.group(1):
            return rows
        at = following.end()


class _Parser:
    def __init__(self, path: Path, statement: Statement) -> None:
        self.path, self.statement = path, statement
        self.tokens = _LazyTokens(statement.text)
        self.at = 0

    def error(self, problem: str, token: Token | None = None) -> DumpParseError:
        offset = token.offset if token is not None else len(self.statement.text)
        line = line_of(self.statement.text, offset, self.statement.line)
        return DumpParseError(self.path, line, problem)

    def peek(self) -> Token | None:
        return self.tokens.get(self.at)

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.error("the statement ends too early")
        self.at += 1
        return token

    def expect(self, value: bytes) -> Token:
        token = self.take()
        if token.value.upper() != value:
            raise self.error(
                f"expected {value.decode(errors='replace')!r}, found {_show(token)}", token
            )
        return token

    def word(self, index: int) -> str:
        token = self.tokens.get(index)
        if token is not None and token.kind == "IDENT":
            return token.value.decode(errors="replace").upper()
        return ""

    def create_table(self, table_prefix: str, as_text: frozenset[str]) -> DumpTable:
        self.at = 2
        if self.word(2) == "IF":
            self.at = 5
        name = identifier(self.take())
        self.expect(b"(")
        columns: list[Column] = []
        while True:
            first = self.take()
            if first.kind in ("QIDENT", "IDENT") and identifier(first).upper() not in _NOT_COLUMNS:
                columns.append(self._column(identifier(first), f"{table_prefix}{name}", as_text))
            self._skip_to_comma_or_close()
            closing = self.take()
            if closing.value == b")":
                return DumpTable(name, columns)

    def _column(self, name: str, table: str, as_text: frozenset[str]) -> Column:
        type_token = self.take()
        column_type = type_token.value.decode(errors="replace")
        if (nxt := self.peek()) is not None and nxt.value == b"(":
            begin = nxt.offset
            self._skip_parenthesised()
            end = self.tokens.scanned[self.at - 1].offset + 1
            column_type += self.statement.text[begin:end].decode(errors="replace")
        while self.word(self.at) in _TYPE_SUFFIXES:
            column_type += " " + self.take().value.decode(errors="replace").lower()
        return column_for(table, name, column_type, name in as_text)

    def _skip_parenthesised(self) -> None:
        depth = 0
        while True:
            token = self.take()
            if token.value == b"(":
                depth += 1
            elif token.value == b")":
                depth -= 1
                if depth == 0:
                    return

    def _skip_to_comma_or_close(self) -> None:
        while (token := self.peek()) is not None and token.value not in (b",", b")"):
            if token.value == b"(":
                self._skip_parenthesised()
            else:
                self.at += 1

    def insert(self) -> tuple[str, list[str] | None, Iterator[tuple[list[object], Token]]]:
        self.at = 1
        if self.word(1) in ("IGNORE", "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY"):
            self.at = 2
        self.expect(b"INTO")
        name = identifier(self.take())
        names: list[str] | None = None
        if (nxt := self.peek()) is not None and nxt.value == b"(":
            self.take()
            names = []
            while True:
                names.append(identifier(self.take()))
                if self.take().value == b")":
                    break
        token = self.take()
        if token.value.upper() not in (b"VALUES", b"VALUE"):
            raise self.error(f"expected VALUES, found {_show(token)}", token)
        fast = _fast_rows(self.statement.text, token.offset + len(token.value))
        return name, names, iter(fast) if fast is not None else self._rows()

    def _rows(self) -> Iterator[tuple[list[object], Token]]:
        while True:
            opening = self.expect(b"(")
            row: list[object] = []
            while True:
                row.append(self._value())
                token = self.take()
                if token.value == b")":
                    break
                if token.value != b",":
                    raise self.error(f"expected ',' or ')', found {_show(token)}", token)
            yield row, opening
            if self.peek() is None:
                return
            between = self.take()
            if between.value != b",":
                raise self.error(f"expected ',' between rows, found {_show(between)}", between)

    def _value(self) -> object:
        token = self.take()
        kind = token.kind
        if kind == "NUMBER":
            return token.value
        if kind == "STRING":
            return string_value(token)
        if kind == "IDENT":
            word = token.value.upper()
            if word == b"NULL":
                return None
            if word in (b"TRUE", b"FALSE"):
                return b"1" if word == b"TRUE" else b"0"
            if word.startswith(b"_"):  # charset introducer: _binary '...', _utf8mb4 '...'
                return self._value()
        if kind == "HEX":
            return _Raw(hex_value(token))
        if kind == "BITS":
            return _Raw(bits_value(token))
        raise self.error(f"cannot read the value {_show(token)}", token)


class _Raw(bytes):
    """Bytes from a hex or bit literal: binary data, not text to parse."""


def _show(token: Token) -> str:
    text = token.value[:40].decode(errors="replace")
    return f"{text!r}"


def read_dump(
    path: Path, as_text: frozenset[str] = frozenset()
) -> tuple[DumpInfo, Iterator[tuple[DumpTable, pa.RecordBatch | None]]]:
    """The dump's info (filled as the file is read) and (table, batch) pairs in file order.

    A table's CREATE TABLE yields (table, None) so that empty tables are written too.
    """
    info = DumpInfo()
    scan_ends(path, info)
    return info, _read(path, info, as_text)


def _read(
    path: Path, info: DumpInfo, as_text: frozenset[str]
) -> Iterator[tuple[DumpTable, pa.RecordBatch | None]]:
    tables: dict[str, DumpTable] = {}
    current: DumpTable | None = None
    pending = _Pending()
    for statement in statements(path, info):
        parser = _Parser(path, statement)
        first = parser.word(0)
        if first == "CREATE" and parser.word(1) == "TABLE":
            if current is not None and pending.rows:
                yield current, pending.flush(current, path)
            try:
                table = parser.create_table(f"{info.database}." if info.database else "", as_text)
            except SnapshotError as exc:
                if isinstance(exc, DumpParseError):
                    raise
                fix = exc.fix
                if isinstance(exc, UnsupportedTypeError):
                    fix = f"import it as text: --as-text {exc.column}"
                raise DumpParseError(path, statement.line, exc.cause, fix) from None
            tables[table.name] = current = table
            info.tables.append(table.name)
            yield table, None
        elif first in ("INSERT", "REPLACE"):
            name, names, rows = parser.insert()
            found = tables.get(name)
            if found is None:
                raise parser.error(f"INSERT into `{name}` before its CREATE TABLE")
            table = found
            if table is not current:
                if current is not None and pending.rows:
                    yield current, pending.flush(current, path)
                current = table
            pending.starts.append((len(pending.rows), statement.line))
            order = _column_order(table, names, parser)
            width = len(table.columns) if order is None else len(order)
            for row, opening in rows:
                if len(row) != width:
                    raise parser.error(
                        f"a row of `{name}` has {len(row)} values, the table has {width} columns",
                        opening,
                    )
                pending.rows.append(row if order is None else _reorder(row, order, table))
            if len(pending.rows) >= BATCH_ROWS:
                yield table, pending.flush(table, path)
        elif first in ("CHANGE", "SET"):
            read_position(statement.text, info)
    if current is not None and pending.rows:
        yield current, pending.flush(current, path)


def _column_order(table: DumpTable, names: list[str] | None, parser: _Parser) -> list[int] | None:
    if names is None:
        return None
    known = {c.name: i for i, c in enumerate(table.columns)}
    missing = [n for n in names if n not in known]
    if missing:
        raise parser.error(f"INSERT names unknown columns of `{table.name}`: {missing}")
    return [known[n] for n in names]


def _reorder(row: list[object], order: list[int], table: DumpTable) -> list[object]:
    full: list[object] = [None] * len(table.columns)
    for value, index in zip(row, order, strict=True):
        full[index] = value
    return full


@dataclass
class _Pending:
    """Rows not yet in a batch, and where each INSERT's rows start (for error lines)."""

    rows: list[list[object]] = field(default_factory=list)
    starts: list[tuple[int, int]] = field(default_factory=list)  # (row index, line)

    def flush(self, table: DumpTable, path: Path) -> pa.RecordBatch:
        rows, starts = self.rows, self.starts
        self.rows, self.starts = [], []
        columns = list(zip(*rows, strict=True))
        arrays = []
        for column, values in zip(table.columns, columns, strict=True):
            try:
                arrays.append(to_array(values, column, f"`{table.name}`"))  # type: ignore[arg-type]
            except SnapshotError as exc:
                line = _failing_line(values, column, starts)
                raise DumpParseError(path, line, exc.cause, exc.fix) from None
        return pa.RecordBatch.from_arrays(arrays, [c.name for c in table.columns])


def _failing_line(values: tuple[object, ...], column: Column, starts: list[tuple[int, int]]) -> int:
    """The line of the INSERT holding the first value of `column` that does not convert."""
    bounds = [*starts, (len(values), 0)]
    for (begin, line), (end, _) in itertools.pairwise(bounds):
        try:
            to_array(values[begin:end], column, "")  # type: ignore[arg-type]
        except SnapshotError:
            return line
    return starts[0][1] if starts else 0
