"""Incremental snapshot chunks from PostgreSQL (`sources.cdc.incremental`'s `ChunkSource`).

Columns are read as text and typed with the stream's converters (as the initial snapshot does), so
a chunk row reads the same as the row wal2json would write; keys in wal2json's order (attnum).
The reader also asks it for the key of a change wal2json sent without `pk`: wal2json 2.5
documents `include-pk` for REPLICA IDENTITY DEFAULT (eulerto/wal2json#273) and was seen leaving
it out of the first insert into a FULL-identity table.
"""

from __future__ import annotations

from typing import Any

import orjson
import psycopg2
from psycopg2 import sql

from headwater.sources.cdc.config import CdcConfig
from headwater.sources.cdc.postgres.setup import dsn
from headwater.sources.cdc.postgres.snapshot import as_text, columns_of, typed, typed_row


class PostgresChunks:
    """Reads keys and chunks and writes watermarks (with a signal table) on its own autocommit
    connection, opened when first needed."""

    errors = (psycopg2.Error,)

    def __init__(self, config: CdcConfig) -> None:
        self.config = config
        table = config.signal_table
        self.signal = sql.Identifier(*table.split(".", 1)) if table else None
        self._conn: Any = None
        self._columns: dict[tuple[str, str], tuple[list[tuple[str, str]], list[str]]] = {}

    def primary_key(self, schema: str, table: str) -> list[str]:
        try:
            return self._describe(schema, table)[1]
        except psycopg2.errors.UndefinedTable:
            return []

    def read_chunk(
        self, schema: str, table: str, pk: list[str], after: tuple[Any, ...] | None, limit: int
    ) -> list[dict[str, Any]]:
        columns, _ = self._describe(schema, table)
        # Qualified: a bare name in ORDER BY would mean the output column, which is its text.
        keys = sql.SQL(", ").join(sql.Identifier("src", c) for c in pk)
        where = sql.SQL("")
        if after is not None:
            where = sql.SQL("WHERE ({}) > ({})").format(
                keys, sql.SQL(", ").join(sql.Placeholder() * len(pk))
            )
        query = sql.SQL("SELECT {} FROM {} AS src {} ORDER BY {} LIMIT {}").format(
            as_text(columns), sql.Identifier(schema, table), where, keys, sql.Literal(int(limit))
        )
        convert = typed(columns)
        with self._connection().cursor() as cur:
            cur.execute(query, after or ())
            return [typed_row(convert, values) for values in cur.fetchall()]

    def insert_signal(self, signal_id: str, kind: str, collection: str) -> None:
        assert self.signal is not None
        with self._connection().cursor() as cur:
            cur.execute(
                sql.SQL("INSERT INTO {} (id, type, data) VALUES (%s, %s, %s)").format(self.signal),
                (signal_id, kind, orjson.dumps({"data-collection": collection}).decode()),
            )

    def _describe(self, schema: str, table: str) -> tuple[list[tuple[str, str]], list[str]]:
        found = self._columns.get((schema, table))
        if found is None:
            with self._connection().cursor() as cur:
                found = self._columns[(schema, table)] = columns_of(cur, schema, table)
        return found

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = psycopg2.connect(dsn(self.config.url))
            self._conn.autocommit = True
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._columns.clear()  # a table may have changed by the next request
