"""Primary keys read from the catalog, for changes wal2json sends without `pk`.

wal2json 2.5 documents `include-pk` for REPLICA IDENTITY DEFAULT (eulerto/wal2json#273) and was
seen leaving `pk` out of the first insert into a FULL-identity table (once in ~20 full test
runs). A change must keep its key whatever the identity, so the key columns are then read once
per table from `pg_index`, in the index's column order (wal2json's), so that both ways give the
same key bytes and a table's changes stay on one partition per key. The catalog is read as it is
now: a primary key changed since the change was written is not seen (such DDL is rare).
"""

from __future__ import annotations

from typing import Any

import psycopg2
import psycopg2.errors
from psycopg2 import sql

from headwater.sources.cdc.config import SourceUrl
from headwater.sources.cdc.postgres.setup import dsn

_PRIMARY_KEY = """
    SELECT a.attname
    FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
    WHERE i.indrelid = %s::regclass AND i.indisprimary
    ORDER BY array_position(i.indkey::int2[], a.attnum)
"""


class CatalogKeys:
    """`keys(schema, table)` → the primary key's columns ([] without one); one lazy connection."""

    def __init__(self, url: SourceUrl) -> None:
        self.url = url
        self._conn: Any = None
        self._found: dict[tuple[str, str], list[str]] = {}

    def __call__(self, schema: str, table: str) -> list[str]:
        found = self._found.get((schema, table))
        if found is None:
            if self._conn is None:
                self._conn = psycopg2.connect(dsn(self.url))
                self._conn.autocommit = True
            with self._conn.cursor() as cur:
                name = sql.Identifier(schema, table).as_string(cur)
                try:
                    cur.execute(_PRIMARY_KEY, (name,))
                    found = [row[0] for row in cur.fetchall()]
                except psycopg2.errors.UndefinedTable:  # dropped since: no key to give
                    found = []
            self._found[(schema, table)] = found
        return found

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
