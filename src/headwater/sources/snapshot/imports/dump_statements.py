"""Cut a mysqldump file into statements, and read the position lines it carries.

Statements end at the delimiter (`;`, or what a `DELIMITER` line sets) outside quotes, so a string
literal may span lines. Comment lines are not statements but may carry facts: `-- Host: ...
Database: app`, `CHANGE MASTER TO MASTER_LOG_FILE=..., MASTER_LOG_POS=...` (--master-data, even
commented out), `SET GLOBAL gtid_slave_pos='...'` (MariaDB --gtid, printed after the data).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from headwater.sources.snapshot.errors import DumpParseError
from headwater.sources.snapshot.imports.sql_tokens import line_of, tokens
from headwater.sources.snapshot.position import Position

_DATABASE = re.compile(rb"^-- Host: .*Database: (\S+)")
_CHANGE_MASTER = re.compile(rb"MASTER_LOG_FILE='([^']+)',\s*MASTER_LOG_POS=(\d+)")
_GTID = re.compile(rb"gtid_slave_pos\s*=\s*'([^']*)'")


@dataclass(frozen=True)
class Statement:
    text: bytes
    line: int  # where it starts, 1-based


@dataclass
class DumpInfo:
    database: str | None = None
    binlog_file: str | None = None
    binlog_pos: int | None = None
    gtid: str | None = None
    tables: list[str] = field(default_factory=list)

    def position(self, path: Path) -> Position:
        return Position(
            "mysqldump",
            "dump_file",
            binlog_file=self.binlog_file,
            binlog_pos=self.binlog_pos,
            gtid=self.gtid,
            extra={"file": str(path)},
        )


def statements(path: Path, info: DumpInfo) -> Iterator[Statement]:
    """Cut the file into statements; comment lines feed `info`."""
    delimiter = b";"
    buffer: list[bytes] = []
    start = 0
    with path.open("rb") as file:
        for number, line in enumerate(file, 1):
            if not buffer:
                stripped = line.strip()
                if not stripped:
                    continue
                if stripped.startswith(b"--"):
                    _read_comment(stripped, info)
                    continue
                if stripped.startswith(b"/*") and stripped.rstrip(b";").endswith(b"*/"):
                    continue  # version-conditional SET statements, the sandbox-mode line
                if stripped.upper().startswith(b"DELIMITER "):
                    delimiter = stripped.split()[1]
                    continue
                start = number
            buffer.append(line)
            if not line.rstrip().endswith(delimiter):
                continue
            text = b"".join(buffer)
            if _open_quote(text) is not None:
                continue  # a string literal spans lines
            buffer = []
            yield Statement(text.rstrip()[: -len(delimiter)], start)
    if buffer:
        text = b"".join(buffer)
        quote = _open_quote(text)
        if quote is not None:
            raise DumpParseError(
                path, line_of(text, quote, start), "a string literal is never closed"
            )
        raise DumpParseError(path, start, "the last statement has no terminating ';'")


_QUOTED = re.compile(rb"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|`[^`]*`", re.DOTALL)


def _open_quote(text: bytes) -> int | None:
    """Where an unclosed quote starts, or None. Removing every closed literal (in C) answers
    the common case; only a suspect statement is tokenized (comments may hold quotes)."""
    rest = _QUOTED.sub(b"", text)
    if b"'" not in rest and b'"' not in rest and b"`" not in rest:
        return None
    for token in tokens(text):
        if token.kind == "BAD" and token.value in (b"'", b'"', b"`"):
            return token.offset
    return None


def _read_comment(line: bytes, info: DumpInfo) -> None:
    if match := _DATABASE.match(line):
        info.database = match.group(1).decode(errors="replace")
    read_position(line, info)


def read_position(text: bytes, info: DumpInfo) -> None:
    if match := _CHANGE_MASTER.search(text):
        info.binlog_file, info.binlog_pos = (
            match.group(1).decode(errors="replace"),
            int(match.group(2)),
        )
    if match := _GTID.search(text):
        info.gtid = match.group(1).decode(errors="replace")


def scan_ends(path: Path, info: DumpInfo, size: int = 1 << 16) -> None:
    """The position lines before the first table is written: mysqldump --gtid prints the GTID
    after the data, at the end of the file."""
    with path.open("rb") as file:
        head = file.read(size)
        file.seek(max(0, path.stat().st_size - size))
        tail = file.read()
    for chunk in (head, tail):
        for line in chunk.splitlines():
            if line.startswith(b"--"):
                _read_comment(line, info)
