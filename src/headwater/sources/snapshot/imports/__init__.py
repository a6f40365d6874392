"""Dump files people already have → Delta tables in the lake, one version per import.

Each import writes `snapshots_<db>_<table>` like a live snapshot, with a position that says where
the data came from (the file, and for mysqldump the binlog position the dump recorded, if any).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from headwater.sources.snapshot.errors import SnapshotError
from headwater.sources.snapshot.imports import cql_csv, mongoexport, mysqldump
from headwater.sources.snapshot.plan import schema_of
from headwater.sources.snapshot.position import Position
from headwater.sources.snapshot.writer import lake_table_name, write_snapshot


@dataclass(frozen=True)
class ImportResult:
    lake_table: str
    version: int
    rows: int
    seconds: float


def _counted(
    batches: Iterable[pa.RecordBatch], on_rows: Callable[[int], None], total: list[int]
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        total[0] += batch.num_rows
        on_rows(batch.num_rows)
        yield batch


def _write(
    lake: Path,
    name: str,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    position: Position,
    on_rows: Callable[[int], None],
) -> ImportResult:
    started = time.perf_counter()
    failure: list[BaseException] = []
    total = [0]

    def guarded() -> Iterator[pa.RecordBatch]:
        try:
            yield from _counted(batches, on_rows, total)
        except BaseException as exc:  # delta-rs wraps errors from the stream: keep ours
            failure.append(exc)
            raise

    try:
        version = write_snapshot(lake, name, schema, guarded(), position)
    except BaseException:
        if failure:
            raise failure[0] from None
        raise
    return ImportResult(name, version, total[0], time.perf_counter() - started)


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise SnapshotError(f"no file {path}", "check the path")


def import_mongoexport(
    path: Path,
    lake: Path,
    db: str,
    collection: str,
    on_rows: Callable[[int], None] = lambda n: None,
) -> ImportResult:
    _check_file(path)
    schema, batches = mongoexport.read_export(path)
    position = Position("mongoexport", "dump_file", extra={"file": str(path)})
    return _write(lake, lake_table_name(db, collection), schema, batches, position, on_rows)


def import_cql_csv(
    path: Path,
    lake: Path,
    keyspace: str,
    table: str,
    types: dict[str, str] | None = None,
    on_rows: Callable[[int], None] = lambda n: None,
) -> ImportResult:
    _check_file(path)
    schema, batches = cql_csv.read_csv(path, types)
    position = Position("cql", "dump_file", extra={"file": str(path)})
    return _write(lake, lake_table_name(keyspace, table), schema, batches, position, on_rows)


def import_mysqldump(
    path: Path,
    lake: Path,
    db: str | None = None,
    on_rows: Callable[[int], None] = lambda n: None,
    as_text: frozenset[str] = frozenset(),
) -> list[ImportResult]:
    """Every table of the dump, each into its own Delta table, in file order; columns named in
    `as_text` (any table) are imported as their text."""
    _check_file(path)
    info, pairs = mysqldump.read_dump(path, as_text)
    results = []
    for table, group in itertools.groupby(pairs, key=lambda pair: pair[0]):
        database = db or info.database
        if not database:
            raise SnapshotError(
                f"{path} does not name its database (no '-- Host: ... Database:' line)",
                "pass --db NAME",
            )
        batches = (batch for _, batch in group if batch is not None)
        name = lake_table_name(database, table.name)
        results.append(
            _write(lake, name, schema_of(table.columns), batches, info.position(path), on_rows)
        )
    return results
