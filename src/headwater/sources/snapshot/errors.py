"""What can go wrong in a snapshot or an import, said so that a person can act on it.

    SnapshotError            cause + fix; the CLI prints both and exits 2, never a traceback
    ├── SourceConnectError   cannot connect or log in (retry helps only after the fix)
    ├── SourcePrivilegeError the user may connect but not read, lock or see the position
    ├── TableNotFoundError
    ├── UnsupportedTypeError a column type with no faithful Delta/Arrow equivalent
    └── DumpParseError       an import file line we cannot read (carries path and line)

Driver errors (psycopg2, ADBC, mysqlclient) are translated at the boundary by `translate_*` in the
source modules; nothing else should catch them.
"""

from __future__ import annotations

from pathlib import Path


class SnapshotError(Exception):
    """An error with its cause and the fix, both meant for the person running the command."""

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(cause)
        self.cause = cause
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.cause}\nfix: {self.fix}"


class SourceConnectError(SnapshotError):
    pass


class SourcePrivilegeError(SnapshotError):
    pass


class TableNotFoundError(SnapshotError):
    pass


class UnsupportedTypeError(SnapshotError):
    def __init__(self, table: str, column: str, type_name: str) -> None:
        super().__init__(
            f"column {column!r} of {table} has type {type_name}, which has no faithful "
            "Delta Lake type",
            f"read it as text with --as-text {column}, or leave it out with --exclude {column}",
        )
        self.column = column
        self.type_name = type_name


class DumpParseError(SnapshotError):
    def __init__(self, path: Path | str, line: int, problem: str, fix: str | None = None) -> None:
        super().__init__(
            f"{path}, line {line}: {problem}",
            fix or "correct or remove that line (the rest of the file was not imported)",
        )
        self.path = str(path)
        self.line = line
