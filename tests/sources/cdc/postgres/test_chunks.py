"""Primary keys from a real PostgreSQL's catalog, in the order wal2json sends them."""

from __future__ import annotations

from headwater.sources.cdc.config import CdcConfig, SourceUrl
from headwater.sources.cdc.postgres.chunks import PostgresChunks
from tests.sources.cdc.conftest import PgDatabase


def test_key_columns_come_in_the_tables_column_order_as_wal2json_sends_them(
    pg_db: PgDatabase,
) -> None:
    pg_db.execute(
        'CREATE SCHEMA "Shop"',
        'CREATE TABLE "Shop"."Line Items" (a int, b text, c int, PRIMARY KEY (c, a))',
        "CREATE TABLE public.plain (id bigint PRIMARY KEY, note text)",
        "CREATE TABLE public.keyless (a int)",
    )
    # No signal table: the reader asks it for keys alone.
    catalog = PostgresChunks(CdcConfig(name="unit", url=SourceUrl.parse(pg_db.dsn)))
    try:
        assert catalog.primary_key("Shop", "Line Items") == ["a", "c"]  # wal2json: "pk":[a, c]
        assert catalog.primary_key("public", "plain") == ["id"]
        assert catalog.primary_key("public", "keyless") == []
        assert catalog.primary_key("public", "dropped_or_never_there") == []
        pg_db.execute("ALTER TABLE public.plain DROP CONSTRAINT plain_pkey")
        assert catalog.primary_key("public", "plain") == ["id"]  # read once per table
    finally:
        catalog.close()
